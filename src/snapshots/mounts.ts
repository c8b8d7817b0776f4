/**
 * Mount descriptions ({type, source, options}, as containerd hands them to a runtime) and helpers
 * that really mount them.
 *
 * Long overlay option strings: mount(2) takes its data in one page, so an image with many layers
 * cannot name all lowerdirs there. When the data reaches pagesize - 512 bytes (containerd's
 * threshold) we use the new mount API instead: fsopen("overlay") and one `lowerdir+` fsconfig
 * call per layer (kernel ≥ 6.8; each path ≤ 255 bytes), no page limit at all. On a kernel
 * without `lowerdir+` (EINVAL) we fall back to containerd's trick: paths relative to their common
 * parent directory, mounted by a short-lived child process (node -e, koffi) started in that
 * directory, so this process never changes its working directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { BerthError, errnoName } from '../lib/index.js';
import { MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT, fsmountAt, mount, umount2, type FsConfigEntry } from '../sys/index.js';

export interface Mount {
  type: string;          // 'bind' | 'overlay'
  source: string;
  target?: string;
  options: string[];
}

export const PAGE_SIZE = 4096;
/** containerd mounts with compacted paths once the data reaches this length. */
export const OPTION_LIMIT = PAGE_SIZE - 512;

export type OverlayMethod = 'auto' | 'mount' | 'fsconfig' | 'relative';

let indexOff: boolean | undefined;
/** containerd adds index=off when the overlay module has the parameter. */
export function overlayBaseOptions(): string[] {
  indexOff ??= existsSync('/sys/module/overlay/parameters/index');
  return indexOff ? ['index=off'] : [];
}

/** Escape a lowerdir path for the colon-separated list (runc's escapeOverlayLowerDir). */
export function escapeLowerDir(p: string): string {
  return p.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

export function splitLowerDirs(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === '\\' && i + 1 < v.length) { cur += v[++i]; continue; }
    if (ch === ':') { out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  out.push(cur);
  return out;
}

export function bindMount(source: string, readonly: boolean): Mount {
  return { type: 'bind', source, options: readonly ? ['ro', 'rbind'] : ['rbind', 'rw'] };
}

export function overlayMount(lowers: string[], upper?: string, work?: string): Mount {
  const options = [...overlayBaseOptions()];
  if (upper && work) options.push(`workdir=${work}`, `upperdir=${upper}`);
  options.push(`lowerdir=${lowers.map(escapeLowerDir).join(':')}`);
  return { type: 'overlay', source: 'overlay', options };
}

/** The fuse-overlayfs program (Debian package fuse-overlayfs). */
export const FUSE_OVERLAYFS = '/usr/bin/fuse-overlayfs';

/** A mount made by the fuse-overlayfs program (its own option syntax: lowerdir, upperdir, workdir). */
export function fuseOverlayMount(lowers: string[], upper?: string, work?: string): Mount {
  const options = [`lowerdir=${lowers.join(':')}`];
  if (upper && work) options.push(`upperdir=${upper}`, `workdir=${work}`);
  return { type: 'fuse-overlayfs', source: 'fuse-overlayfs', options };
}

/**
 * Mount with fuse-overlayfs on `target`: the program mounts, then stays in the background serving
 * the mount until it is unmounted (it exits then). A read-only view gets `ro`.
 */
export function mountFuseOverlay(m: Mount, target: string): void {
  const r = spawnSync(FUSE_OVERLAYFS, ['-o', m.options.join(','), target], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim();
    throw new BerthError({ kind: 'system', op: 'mount fuse-overlayfs', path: target, message: `mount fuse-overlayfs ${target}: ${FUSE_OVERLAYFS}: ${why}` });
  }
}

function mountError(op: string, target: string, message: string): BerthError {
  return new BerthError({ kind: 'system', op, path: target, message: `${op} ${target}: ${message}` });
}

function parseOptions(options: string[]): { key: string; value?: string }[] {
  return options.map((o) => {
    const i = o.indexOf('=');
    return i < 0 ? { key: o } : { key: o.slice(0, i), value: o.slice(i + 1) };
  });
}

function mountOverlayFsconfig(m: Mount, target: string): void {
  const entries: FsConfigEntry[] = [];
  for (const o of parseOptions(m.options)) {
    if (o.key === 'lowerdir' && o.value !== undefined) {
      for (const l of splitLowerDirs(o.value)) entries.push({ key: 'lowerdir+', value: l });
    } else entries.push(o);
  }
  fsmountAt('overlay', m.source, entries, target);
}

/** Longest common directory of absolute paths, ending in '/'. */
function commonDir(paths: string[]): string {
  let prefix = paths[0] ?? '/';
  for (const p of paths) {
    let i = 0;
    while (i < prefix.length && i < p.length && prefix[i] === p[i]) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix.slice(0, prefix.lastIndexOf('/') + 1) || '/';
}

/** Rewrite lowerdir/upperdir/workdir relative to their common directory. */
export function compactOverlayOptions(options: string[]): { cwd: string; data: string } {
  const parsed = parseOptions(options);
  const dirs: string[] = [];
  for (const o of parsed) {
    if (o.key === 'lowerdir' && o.value) dirs.push(...splitLowerDirs(o.value));
    if ((o.key === 'upperdir' || o.key === 'workdir') && o.value) dirs.push(o.value);
  }
  const cwd = commonDir(dirs);
  const rel = (p: string) => (p.startsWith(cwd) ? p.slice(cwd.length) : p) || '.';
  const data = parsed.map((o) => {
    if (o.value === undefined) return o.key;
    if (o.key === 'lowerdir') return `lowerdir=${splitLowerDirs(o.value).map((p) => escapeLowerDir(rel(p))).join(':')}`;
    if (o.key === 'upperdir' || o.key === 'workdir') return `${o.key}=${rel(o.value)}`;
    return `${o.key}=${o.value}`;
  }).join(',');
  return { cwd, data };
}

/** The child's program: one mount(2) with the data as given, errno on stderr. Self-contained so it works from a bundle too. */
function childScript(): string {
  const koffiPath = createRequire(import.meta.url).resolve('koffi');
  return `const koffi = require(${JSON.stringify(koffiPath)});
const mount = koffi.load('libc.so.6').func('int mount(const char *s, const char *t, const char *f, unsigned long fl, const char *d)');
const [source, target, data] = JSON.parse(process.argv[1]);
if (mount(source, target, 'overlay', 0, data) !== 0) { process.stderr.write(String(koffi.errno())); process.exit(1); }`;
}

function mountOverlayRelative(m: Mount, target: string): void {
  const { cwd, data } = compactOverlayOptions(m.options);
  if (data.length >= PAGE_SIZE) throw mountError('mount overlay', target, `options are ${data.length} bytes even with relative paths (one page is ${PAGE_SIZE})`);
  const r = spawnSync(process.execPath, ['-e', childScript(), JSON.stringify([m.source, target, data])], { cwd, encoding: 'utf8' });
  if (r.status !== 0) {
    const errno = /^\d+$/.test(r.stderr.trim()) ? Number(r.stderr.trim()) : undefined;
    const why = errno !== undefined ? errnoName(errno) : (r.stderr || r.error?.message || `exit ${r.status}`).trim();
    throw new BerthError({ kind: 'system', op: 'mount overlay', path: target, errno, message: `mount overlay ${target} (relative paths in ${cwd}): ${why}` });
  }
}

/** Mount an overlay description; see the module comment for the methods. */
export function mountOverlay(m: Mount, target: string, method: OverlayMethod = 'auto'): void {
  const data = m.options.join(',');
  if (method === 'mount' || (method === 'auto' && data.length < OPTION_LIMIT)) {
    mount(m.source, target, 'overlay', 0, data);
    return;
  }
  if (method === 'relative') return mountOverlayRelative(m, target);
  try {
    mountOverlayFsconfig(m, target);
  } catch (err) {
    const e = err as BerthError;
    // kernels before 6.8 do not know lowerdir+ (EINVAL); a kernel without fsopen gives ENOSYS
    if (method === 'auto' && (e.code === 'EINVAL' || e.code === 'ENOSYS')) return mountOverlayRelative(m, target);
    throw err;
  }
}

/** Mount the descriptions on `target` in order (the first on target itself). */
export function mountAll(mounts: Mount[], target: string, method: OverlayMethod = 'auto'): void {
  if (!isAbsolute(target)) target = resolve(target);
  for (const m of mounts) {
    const where = m.target ? join(target, m.target) : target;
    if (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind')) {
      const rec = m.options.includes('rbind') ? MS_REC : 0;
      mount(m.source, where, null, MS_BIND | rec);
      if (m.options.includes('ro')) {
        try {
          mount(null, where, null, MS_REMOUNT | MS_BIND | MS_RDONLY);
        } catch (err) {
          umount2(where, MNT_DETACH, true);
          throw err;
        }
      }
    } else if (m.type === 'overlay') {
      mountOverlay(m, where, method);
    } else if (m.type === 'fuse-overlayfs') {
      mountFuseOverlay(m, where);
    } else {
      mount(m.source, where, m.type, m.options.includes('ro') ? MS_RDONLY : 0, m.options.filter((o) => o !== 'ro' && o !== 'rw').join(','));
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Unmount `target` (everything stacked on it). Retries EBUSY for a while, then gives up with an
 * error unless `detach` (lazy unmount). Returns false when nothing was mounted there.
 */
export async function unmount(target: string, opts: { detach?: boolean } = {}): Promise<boolean> {
  let any = false;
  for (let tries = 0; ; tries++) {
    try {
      if (!umount2(target, 0, true)) return any;
      any = true;
      tries = 0;
    } catch (err) {
      if ((err as BerthError).code !== 'EBUSY') throw err;
      if (tries >= 20) {
        if (opts.detach) { umount2(target, MNT_DETACH, true); return true; }
        throw err;
      }
      await sleep(50);
    }
  }
}
