/**
 * Which cgroup hierarchies live under a root directory (v1, v2 or hybrid), and where a cgroupsPath
 * lands in each. Real roots are read from /proc/self/mountinfo; a root with no cgroup mount under it
 * is a fake root (tests) and is read from its directory entries.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { BerthError, invalid, wrapError } from '../lib/index.js';

export const V1_CONTROLLERS = [
  'cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio',
  'perf_event', 'hugetlb', 'pids', 'rdma', 'misc',
];

export interface Hierarchy {
  /** Directory name under the root ("memory", "cpu,cpuacct", "systemd", "unified"; "" for the root itself). */
  name: string;
  mountpoint: string;
  /** The mountinfo root field: which cgroup of the hierarchy is mounted there ("/" normally). */
  mountRoot: string;
  /** v1 controllers ("name=systemd" for the named hierarchy); empty for the unified (v2) hierarchy. */
  controllers: string[];
  unified: boolean;
}

export interface Layout {
  version: 1 | 2;
  root: string;
  fake: boolean;
  hierarchies: Hierarchy[];
}

interface MountEntry { mountpoint: string; root: string; fstype: string; superOpts: string[] }

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f.length < dash + 4) continue;
    out.push({ root: unescape(f[3]!), mountpoint: unescape(f[4]!), fstype: f[dash + 1]!, superOpts: f[dash + 3]!.split(',') });
  }
  return out;
}

function v1Controllers(opts: string[]): string[] {
  return opts.filter((o) => V1_CONTROLLERS.includes(o) || o.startsWith('name='));
}

/** Detect the hierarchies under `root` (already an absolute, normalised path). */
export function detectLayout(root: string, mountinfo?: string): Layout {
  let text = mountinfo;
  if (text === undefined) {
    try { text = readFileSync('/proc/self/mountinfo', 'utf8'); } catch (e) { throw wrapError(e, 'detect cgroups: read', '/proc/self/mountinfo'); }
  }
  // The last mount at a mountpoint is the visible one.
  const byPoint = new Map<string, MountEntry>();
  for (const m of parseMountinfo(text)) {
    if (m.mountpoint === root || m.mountpoint.startsWith(root === '/' ? '/' : root + '/')) byPoint.set(m.mountpoint, m);
  }
  const mounts = [...byPoint.values()].filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2');
  if (!mounts.length) return fakeLayout(root);
  const hier = (m: MountEntry): Hierarchy => ({
    name: posix.relative(root, m.mountpoint), mountpoint: m.mountpoint, mountRoot: m.root,
    controllers: m.fstype === 'cgroup2' ? [] : v1Controllers(m.superOpts), unified: m.fstype === 'cgroup2',
  });
  const atRoot = mounts.find((m) => m.mountpoint === root);
  if (atRoot) return { version: atRoot.fstype === 'cgroup2' ? 2 : 1, root, fake: false, hierarchies: [hier(atRoot)] };
  const v1 = mounts.filter((m) => m.fstype === 'cgroup' && posix.dirname(m.mountpoint) === root);
  const v2 = mounts.filter((m) => m.fstype === 'cgroup2' && posix.dirname(m.mountpoint) === root);
  if (!v1.length) {
    if (!v2.length) return fakeLayout(root);
    return { version: 2, root, fake: false, hierarchies: [hier(v2[0]!)] };
  }
  const hs = v1.map(hier).filter((h) => h.controllers.some((c) => V1_CONTROLLERS.includes(c) || c === 'name=systemd'));
  if (v2.length) hs.push(hier(v2[0]!));
  return { version: 1, root, fake: false, hierarchies: hs };
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

function fakeLayout(root: string): Layout {
  if (!isDir(root)) throw new BerthError({ kind: 'notfound', op: 'open cgroup', path: root, message: `open cgroup: cgroup root ${root}: no such directory` });
  if (existsSync(posix.join(root, 'cgroup.controllers'))) {
    return { version: 2, root, fake: true, hierarchies: [{ name: '', mountpoint: root, mountRoot: '/', controllers: [], unified: true }] };
  }
  const seen = new Map<string, Hierarchy>();
  for (const name of readdirSync(root).sort()) {
    const p = posix.join(root, name);
    if (!isDir(p)) continue;
    let real: string;
    try { real = realpathSync(p); } catch { continue; }
    const prev = seen.get(real);
    let h: Hierarchy | undefined;
    if (existsSync(posix.join(p, 'cgroup.controllers'))) {
      h = { name, mountpoint: p, mountRoot: '/', controllers: [], unified: true };
    } else {
      const parts = name === 'systemd' ? ['name=systemd'] : name.split(',');
      if (parts.every((c) => V1_CONTROLLERS.includes(c) || c.startsWith('name='))) {
        h = { name, mountpoint: p, mountRoot: '/', controllers: parts, unified: false };
      }
    }
    if (!h) continue;
    // A symlink (cpu -> cpu,cpuacct) names the same hierarchy: keep the entry with the most controllers.
    if (!prev || h.controllers.length > prev.controllers.length) seen.set(real, h);
  }
  const hs = [...seen.values()];
  if (!hs.some((h) => !h.unified)) {
    throw new BerthError({ kind: 'notfound', op: 'open cgroup', path: root, message: `open cgroup: no cgroup hierarchy found under ${root}` });
  }
  return { version: 1, root, fake: true, hierarchies: hs };
}

/** /proc/self/cgroup: controllers key ("memory", "cpu,cpuacct", "name=systemd", "" for v2) -> path. */
export function ownCgroups(text?: string): Map<string, string> {
  const out = new Map<string, string>();
  let t = text;
  if (t === undefined) {
    try { t = readFileSync('/proc/self/cgroup', 'utf8'); } catch (e) { throw wrapError(e, 'detect cgroups: read', '/proc/self/cgroup'); }
  }
  for (const line of t.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[2]!, m[3]!);
  }
  return out;
}

function ownPathFor(h: Hierarchy, own: Map<string, string>): string {
  if (h.unified) return own.get('') ?? '/';
  for (const [key, path] of own) {
    if (!key) continue;
    const ks = key.split(',');
    if (h.controllers.some((c) => ks.includes(c))) return path;
  }
  return '/';
}

/** Check a cgroupsPath: no "..", no empty segments that would escape the hierarchy. */
export function checkPath(path: string): void {
  if (!path || path.split('/').some((s) => s === '..' || s === '.')) {
    throw invalid('open cgroup', `open cgroup: invalid cgroups path ${JSON.stringify(path)}: must be non-empty without "." or ".." components`);
  }
  if (/[\0\n]/.test(path)) throw invalid('open cgroup', `open cgroup: invalid cgroups path ${JSON.stringify(path)}`);
}

/**
 * The cgroup directory of `path` in hierarchy `h`: an absolute path is relative to the hierarchy's
 * root; a relative one is relative to this process's own cgroup (as runc does). Fake roots have no
 * "own cgroup", so both forms are relative to the fake root.
 */
export function resolveDir(layout: Layout, h: Hierarchy, path: string, own?: Map<string, string>): string {
  if (path.startsWith('/') || layout.fake) return posix.join(h.mountpoint, path);
  let base = ownPathFor(h, own ?? ownCgroups());
  if (h.mountRoot !== '/' && (base === h.mountRoot || base.startsWith(h.mountRoot + '/'))) base = base.slice(h.mountRoot.length) || '/';
  return posix.join(h.mountpoint, base, path);
}
