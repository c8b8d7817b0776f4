/** Small filesystem helpers of the snapshotter: safe tree removal and process ownership tags. */
import { lstatSync, readFileSync, readdirSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { BerthError, wrapError } from '../lib/index.js';

export { ownerAlive, ownerTag } from '../lib/index.js';

export function lstatMaybe(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw wrapError(err, 'lstat', path);
  }
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

interface MountEntry { dev: string; root: string; point: string; fstype: string; superOpts: string }

function mountTable(): MountEntry[] {
  let text: string;
  try { text = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return []; }
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f.length < 5 || sep < 0) continue;
    out.push({ dev: f[2]!, root: unescapeMountPath(f[3]!), point: unescapeMountPath(f[4]!), fstype: f[sep + 1] ?? '', superOpts: f[sep + 3] ?? '' });
  }
  return out;
}

/** Mount points at or below `path` (from /proc/self/mountinfo). */
export function mountsUnder(path: string): string[] {
  return mountTable().filter((m) => m.point === path || m.point.startsWith(path + '/')).map((m) => m.point);
}

/**
 * Mounts that use `dir` from elsewhere: bind mounts of it (or of something inside it) and
 * overlays naming it with an absolute path. (Overlays mounted with relative paths cannot be seen.)
 */
export function mountsUsing(dir: string): string[] {
  const table = mountTable();
  let host: MountEntry | undefined;
  for (const m of table) {
    if ((dir === m.point || dir.startsWith(m.point === '/' ? '/' : m.point + '/')) && (!host || m.point.length >= host.point.length)) host = m;
  }
  const out: string[] = [];
  if (host) {
    const rest = dir.slice(host.point === '/' ? 0 : host.point.length);
    const inFs = host.root === '/' ? rest : host.root + rest;
    for (const m of table) {
      if (m !== host && m.dev === host.dev && (m.root === inFs || m.root.startsWith(inFs + '/'))) out.push(m.point);
    }
  }
  for (const m of table) {
    if (m.fstype === 'overlay' && (m.superOpts.includes(`=${dir}/`) || m.superOpts.includes(`:${dir}/`))) out.push(m.point);
  }
  return [...mountsUnder(dir), ...out];
}

function gone(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Depth-first removal that tolerates entries vanishing under it (another cleaner). */
function walkRemove(dir: string): void {
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch (err) { if (gone(err)) return; throw err; }
  for (const e of entries) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) walkRemove(p);
    else try { unlinkSync(p); } catch (err) { if (!gone(err)) throw err; }
  }
  try { rmdirSync(dir); } catch (err) { if (!gone(err)) throw err; }
}

/**
 * `rm -rf path`, refusing (before deleting anything) when something is mounted at or below it,
 * so a forgotten mount never gets its contents deleted. A missing path is fine.
 */
export function removeTree(path: string): void {
  const st = lstatMaybe(path);
  if (!st) return;
  if (!st.isDirectory()) {
    try { unlinkSync(path); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapError(err, 'remove', path); }
    return;
  }
  const mounted = mountsUnder(path);
  if (mounted.length) {
    throw new BerthError({ kind: 'conflict', op: 'remove', path, code: 'EBUSY', message: `remove ${path}: ${mounted[0]} is still mounted` });
  }
  try {
    walkRemove(path);
  } catch (err) {
    throw wrapError(err, 'remove', path);
  }
}

