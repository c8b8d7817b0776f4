/**
 * cgroup v2 delegation to an ordinary user (systemd's `Delegate=yes`: `user@UID.service` and the
 * cgroups below it are owned by the user, with the controllers systemd delegated). Found as podman
 * and Docker rootless find it: the unified hierarchy, this process's own cgroup (/proc/self/cgroup),
 * and the topmost cgroup above it still owned by the user (the delegated subtree's root, whose
 * cgroup.procs and cgroup.subtree_control the user may write). A container's cgroup goes below it.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { BerthError } from '../lib/index.js';
import { detectLayout, ownCgroups } from './detect.js';
import { readOptional, writeFile } from './files.js';

export interface Delegation {
  /** The delegated subtree's root as a cgroupsPath (absolute in the hierarchy), e.g. /user.slice/user-1000.slice/user@1000.service. */
  path: string;
  /** Its directory under the cgroup mount. */
  dir: string;
  /** Its cgroup.controllers: the controllers the user may enable below it. */
  controllers: string[];
  /** This process's own cgroup (hierarchy path). */
  own: string;
}

export interface DelegationInput {
  /** cgroup mount root (default /sys/fs/cgroup). */
  root?: string;
  /** /proc/self/cgroup text (default: read it). */
  procSelfCgroup?: string;
  /** /proc/self/mountinfo text (default: read it; a root with no cgroup mount is a fake tree, tests). */
  mountinfo?: string;
  /** The user (default: this process's euid). */
  uid?: number;
}

/** The delegation, or why there is none (a sentence for the user). */
export type DelegationResult = { ok: true; delegation: Delegation } | { ok: false; reason: string };

function ownerOf(p: string): number | undefined {
  try { return statSync(p).uid; } catch { return undefined; }
}

/** Is `dir` delegated to `uid`: the directory and the files a delegate writes are the user's (systemd chowns exactly these). */
function delegatedTo(dir: string, uid: number): boolean {
  return ownerOf(dir) === uid && ownerOf(posix.join(dir, 'cgroup.procs')) === uid && ownerOf(posix.join(dir, 'cgroup.subtree_control')) === uid;
}

/** Find the cgroup subtree delegated to the user (see the file's comment). */
export function findDelegation(input: DelegationInput = {}): DelegationResult {
  const root = posix.resolve(input.root ?? '/sys/fs/cgroup');
  const uid = input.uid ?? process.geteuid!();
  let layout;
  try { layout = detectLayout(root, input.mountinfo); } catch (e) { return { ok: false, reason: `no cgroup filesystem (${(e as Error).message})` }; }
  if (layout.version !== 2) return { ok: false, reason: `cgroup v1${layout.hierarchies.some((h) => h.unified) ? ' (hybrid)' : ''} has no delegation to users` };
  const h = layout.hierarchies[0]!;
  let own = ownCgroups(input.procSelfCgroup).get('');
  if (own === undefined) return { ok: false, reason: 'this process has no cgroup v2 entry in /proc/self/cgroup' };
  if (h.mountRoot !== '/' && (own === h.mountRoot || own.startsWith(h.mountRoot + '/'))) own = own.slice(h.mountRoot.length) || '/';
  // the topmost of the user's own cgroups above (and including) this process's
  let found: string | undefined;
  for (let p = own; p !== '/'; p = posix.dirname(p)) {
    if (delegatedTo(posix.join(h.mountpoint, p), uid)) found = p;
    else if (found) break;
  }
  if (!found) {
    const svc = `/user.slice/user-${uid}.slice/user@${uid}.service`;
    const hint = own.startsWith(svc + '/') || own === svc ? '' : delegatedTo(posix.join(h.mountpoint, svc), uid)
      ? ` (${svc} is delegated to it: run berth inside it, e.g. systemd-run --user --scope berth …)`
      : ' (systemd delegates user@UID.service to a user with a login session; see Delegate= in systemd.resource-control(5))';
    return { ok: false, reason: `this process's cgroup ${own} is not delegated to uid ${uid}${hint}` };
  }
  const dir = posix.join(h.mountpoint, found);
  const controllers = (readOptional(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean);
  return { ok: true, delegation: { path: found, dir, controllers, own } };
}

function subtreeControl(dir: string): Set<string> {
  return new Set((readOptional(dir, 'cgroup.subtree_control') ?? '').split(/\s+/).filter(Boolean));
}

function enable(dir: string, want: string[]): void {
  const on = subtreeControl(dir);
  for (const c of want) {
    if (on.has(c)) continue;
    try { writeFile('enable controllers', dir, 'cgroup.subtree_control', `+${c}`); } catch { /* not delegated after all: the limit's write says so */ }
  }
}

/** The leaf that takes the processes of the delegated root itself (podman moves its own the same way, to "init"). */
export const DELEGATION_INIT_LEAF = 'init';

/**
 * Make the delegated root able to give its controllers to children: enable them in its
 * cgroup.subtree_control. cgroup v2 forbids that while processes live in it ("no internal
 * processes"), and a root with processes and a threaded controller (cpu, pids) enabled makes its
 * children "domain invalid": its processes (the user's shell, where the session put it there)
 * move first to its leaf `init`, with the controllers off meanwhile. Returns the controllers
 * enabled in the root's subtree_control afterwards.
 */
export function enableDelegated(d: Delegation, want: string[] = d.controllers): string[] {
  const needed = want.filter((c) => d.controllers.includes(c));
  const on = subtreeControl(d.dir);
  if (needed.some((c) => !on.has(c)) && procsOf(d.dir).length) {
    for (const c of on) { try { writeFile('disable controllers', d.dir, 'cgroup.subtree_control', `-${c}`); } catch { /* in use below: kept */ } }
    const leaf = posix.join(d.dir, DELEGATION_INIT_LEAF);
    try { mkdirSync(leaf); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new BerthError({ kind: 'system', op: 'enable cgroup controllers', path: leaf, code, message: `enable cgroup controllers: mkdir ${leaf}: ${code ?? (e as Error).message}` });
    }
    for (const pid of procsOf(d.dir)) {
      try { writeFile('move to the delegated leaf', leaf, 'cgroup.procs', String(pid)); } catch (e) {
        if ((e as BerthError).code !== 'ESRCH') throw e; // gone meanwhile
      }
    }
  }
  enable(d.dir, needed);
  const after = subtreeControl(d.dir);
  return needed.filter((c) => after.has(c));
}

function procsOf(dir: string): number[] {
  try { return readFileSync(posix.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; }
}
