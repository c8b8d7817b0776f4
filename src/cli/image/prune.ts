/** `berth image prune [OPTIONS]` */
import type { PruneOptions } from '../../image/index.js';
import { pruneUnusedImages } from '../../engine/index.js';
import { usage } from '../../lib/index.js';
import { bool, strs } from '../flags.js';
import { humanSize, io, print, runCommand, withImageEvents, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'image prune',
  usage: 'berth image prune [OPTIONS]',
  description: 'Remove unused images',
  args: [0, 0],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images, not just dangling ones' },
    { name: 'filter', type: 'strings', metavar: 'filter', help: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
};

function parseUntil(v: string): Date {
  const d = /^\d+(\.\d+)?$/.test(v) ? new Date(Number(v) * 1000) : /^(\d+)(s|m|h)$/.test(v)
    ? new Date(Date.now() - Number(v.slice(0, -1)) * { s: 1000, m: 60_000, h: 3600_000 }[v.slice(-1) as 's' | 'm' | 'h']) : new Date(v);
  if (!Number.isFinite(d.getTime())) throw usage('image prune', `invalid filter 'until=${v}'`);
  return d;
}

async function confirm(question: string): Promise<boolean> {
  io.out.write(question);
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    const done = () => { io.in.off('data', onData); io.in.off('end', done); (io.in as NodeJS.ReadStream).pause?.(); resolve(buf); };
    io.in.on('data', onData);
    io.in.on('end', done);
  });
  return /^\s*y(es)?\s*$/i.test(line.split('\n')[0] ?? '');
}

export async function run(argv: string[]): Promise<number> {
  return runCommand(spec, argv, async (p, ctx) => {
    const opts: PruneOptions = { all: bool(p, 'all') };
    for (const f of strs(p, 'filter')) {
      const [k, ...rest] = f.split('=');
      const v = rest.join('=');
      if (k === 'until') opts.until = parseUntil(v);
      else if (k === 'label' || k === 'label!') {
        const i = v.indexOf('=');
        (opts.labels ??= []).push({ key: i < 0 ? v : v.slice(0, i), ...(i < 0 ? {} : { value: v.slice(i + 1) }), negate: k === 'label!' });
      } else throw usage('image prune', `invalid filter '${k}'`);
    }
    if (!bool(p, 'force')) {
      const warn = opts.all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.';
      if (!(await confirm(`${warn}\nAre you sure you want to continue? [y/N] `))) return 0;
    }
    const r = await withImageEvents(ctx, (t) => pruneUnusedImages(t, opts));
    if (r.ImagesDeleted.length) {
      print('Deleted Images:');
      for (const it of r.ImagesDeleted) print(it.Untagged !== undefined ? `untagged: ${it.Untagged}` : `deleted: ${it.Deleted}`);
      print();
    }
    print(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
    return 0;
  });
}
