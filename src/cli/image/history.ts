/** `berth history [OPTIONS] IMAGE` (also `image history`) */
import { history, type HistoryRow } from '../../image/index.js';
import { bool, str } from '../flags.js';
import { createdAt, humanSize, io, runCommand, shortId, since, type CommandSpec } from './common.js';
import { formatItems } from './format.js';

export const spec: CommandSpec = {
  name: 'history',
  usage: 'berth history [OPTIONS] IMAGE',
  description: 'Show the history of an image',
  args: [1, 1],
  flags: [
    { name: 'format', type: 'string', help: 'Format output using a custom template' },
    { name: 'human', short: 'H', type: 'bool', default: true, help: 'Print sizes and dates in human readable format' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
    { name: 'platform', type: 'string' },
  ],
};

function fields(h: HistoryRow, human: boolean, noTrunc: boolean): Record<string, unknown> {
  let by = h.createdBy.replace(/\s+/g, ' ');
  if (!noTrunc && [...by].length > 45) by = [...by].slice(0, 44).join('') + '…';
  return {
    ID: h.id === '<missing>' || noTrunc ? h.id : shortId(h.id),
    CreatedSince: human ? since(h.created) : h.created,
    CreatedAt: human ? createdAt(h.created) : h.created,
    CreatedBy: by,
    Size: human ? humanSize(h.size) : String(h.size),
    Comment: h.comment,
    Tags: h.tags,
  };
}

export async function run(argv: string[], name = 'history'): Promise<number> {
  return runCommand({ ...spec, name }, argv, async (p, ctx) => {
    const rows = await history(ctx, p.args[0]!);
    const noTrunc = bool(p, 'no-trunc');
    if (bool(p, 'quiet')) {
      for (const r of rows) io.out.write((noTrunc || r.id === '<missing>' ? r.id : shortId(r.id)) + '\n');
      return 0;
    }
    const items = rows.map((r) => fields(r, bool(p, 'human'), noTrunc));
    io.out.write(formatItems(str(p, 'format'), items, '{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', undefined, '*image.historyContext').replace(/^IMAGE ID/, 'IMAGE   '));
    return 0;
  });
}
