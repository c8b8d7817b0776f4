/** `berth images [OPTIONS] [REPOSITORY[:TAG]]` (also `image ls`) */
import { listImages, parseListFilters, type ImageRow } from '../../image/index.js';
import { bool, str, strs } from '../flags.js';
import { createdAt, humanSize, io, runCommand, shortId, since, type CommandSpec } from './common.js';
import { formatItems } from './format.js';

export const spec: CommandSpec = {
  name: 'images',
  usage: 'berth images [OPTIONS] [REPOSITORY[:TAG]]',
  description: 'List images',
  args: [0, 1],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', help: 'Show digests' },
    { name: 'filter', short: 'f', type: 'strings', metavar: 'filter', help: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', help: "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
    { name: 'tree', type: 'bool' },
  ],
};

/** The fields Docker's image list templates see. */
export function rowFields(r: ImageRow, noTrunc: boolean): Record<string, unknown> {
  return {
    Containers: 'N/A',
    CreatedAt: createdAt(r.created),
    CreatedSince: since(r.created),
    Digest: r.digest,
    ID: noTrunc ? r.id : shortId(r.id),
    Repository: r.repository,
    SharedSize: 'N/A',
    Size: humanSize(r.size),
    Tag: r.tag,
    UniqueSize: 'N/A',
    VirtualSize: humanSize(r.size),
  };
}

export async function run(argv: string[], name = 'images'): Promise<number> {
  return runCommand({ ...spec, name }, argv, async (p, ctx) => {
    const filters = parseListFilters(strs(p, 'filter'));
    if (p.args[0]) (filters.reference ??= []).push(p.args[0]);
    const rows = await listImages(ctx, filters);
    const noTrunc = bool(p, 'no-trunc');
    if (bool(p, 'quiet')) {
      const seen = new Set<string>();
      for (const r of rows) {
        const id = noTrunc ? r.id : shortId(r.id);
        if (!seen.has(id)) {
          seen.add(id);
          io.out.write(id + '\n');
        }
      }
      return 0;
    }
    const def = bool(p, 'digests')
      ? '{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
    io.out.write(formatItems(str(p, 'format'), rows.map((r) => rowFields(r, noTrunc)), def, undefined, '*formatter.imageContext'));
    return 0;
  });
}
