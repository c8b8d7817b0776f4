/**
 * Rootless user namespaces (issue 17): the user's subordinate id ranges (/etc/subuid,
 * /etc/subgid), the id maps a rootless container gets, and the distribution's setuid
 * newuidmap/newgidmap (Debian `uidmap`) that write them — berth has no setuid helper of its own.
 *
 * Two namespaces are in play:
 * - a container's: container id k → the k-th subordinate id (root inside = the first one), so
 *   nothing in the container owns a file of the user's;
 * - the storage namespace, where image layers are chowned and removed: 0 → the user, 1 + k →
 *   the k-th subordinate id (podman's `unshare`): its root may touch the user's files and the
 *   container's, and nothing else.
 * Without ranges (or without newuidmap) the fallback maps only the user's own id to 0: images
 * whose files are all owned by root still run.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { BerthError } from '../lib/index.js';
import { HelperSession } from './helper.js';
import { emptyPlan, step, type Plan, type Step } from './plan.js';

export const NEWUIDMAP = '/usr/bin/newuidmap';
export const NEWGIDMAP = '/usr/bin/newgidmap';
const CLONE_NEWUSER = 0x10000000;

export interface IdRange { start: number; count: number }
export interface IdMapping { containerID: number; hostID: number; size: number }

export interface RootlessIds {
  uid: number;
  gid: number;
  user: string;
  /** 'subids': the user's ranges through newuidmap/newgidmap; 'single': the user's own id as 0. */
  mode: 'subids' | 'single';
  /** Why the single-id fallback is in use (missing ranges, missing newuidmap). */
  reason?: string;
  /** The container's maps. */
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** The storage namespace's maps (in 'single' mode, the container's). */
  storageUid: IdMapping[];
  storageGid: IdMapping[];
  /** Number of container ids mapped (ids ≥ this have no host id). */
  uidCount: number;
  gidCount: number;
}

/** Ranges of `name` (or numeric `id`) in a subuid/subgid file; a missing file has none. */
export function readSubIds(file: string, name: string, id: number): IdRange[] {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return []; }
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length !== 3 || f[0]!.startsWith('#')) continue;
    if (f[0] !== name && f[0] !== String(id)) continue;
    const start = Number(f[1]), count = Number(f[2]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count <= 0) continue;
    // a range listed twice (or overlapping one listed before) would make the kernel refuse the map
    if (out.some((r) => start < r.start + r.count && r.start < start + count)) continue;
    out.push({ start, count });
  }
  return out;
}

function mapsFrom(ranges: IdRange[], first: number): IdMapping[] {
  const out: IdMapping[] = [];
  let next = first;
  for (const r of ranges) { out.push({ containerID: next, hostID: r.start, size: r.count }); next += r.count; }
  return out;
}

function executable(p: string): boolean {
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
}

/** How to give `user` ranges (the message of every error about missing ones). */
export function subIdsHint(user: string): string {
  return `add ranges with: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user} (as root; apt-get install uidmap for newuidmap/newgidmap)`;
}

/** The rootless id maps of this process's user. */
export function rootlessIds(files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): RootlessIds {
  const uid = process.geteuid!(), gid = process.getegid!();
  let user = String(uid);
  try { user = userInfo().username; } catch { /* no passwd entry: the numeric id */ }
  const subuid = readSubIds(files.subuid, user, uid), subgid = readSubIds(files.subgid, user, uid);
  const single = (reason: string): RootlessIds => {
    const u = [{ containerID: 0, hostID: uid, size: 1 }], g = [{ containerID: 0, hostID: gid, size: 1 }];
    return { uid, gid, user, mode: 'single', reason, uidMappings: u, gidMappings: g, storageUid: u, storageGid: g, uidCount: 1, gidCount: 1 };
  };
  if (!subuid.length || !subgid.length) {
    return single(`user ${user} has no subordinate ${!subuid.length ? 'uids in ' + files.subuid : 'gids in ' + files.subgid}`);
  }
  if (!executable(NEWUIDMAP) || !executable(NEWGIDMAP)) return single(`${NEWUIDMAP} or ${NEWGIDMAP} is missing`);
  const uidMappings = mapsFrom(subuid, 0), gidMappings = mapsFrom(subgid, 0);
  return {
    uid, gid, user, mode: 'subids', uidMappings, gidMappings,
    storageUid: [{ containerID: 0, hostID: uid, size: 1 }, ...mapsFrom(subuid, 1)],
    storageGid: [{ containerID: 0, hostID: gid, size: 1 }, ...mapsFrom(subgid, 1)],
    uidCount: subuid.reduce((n, r) => n + r.count, 0),
    gidCount: subgid.reduce((n, r) => n + r.count, 0),
  };
}

/** Is this map the single-id one (the caller's own id only), which the user may write without newuidmap? */
export function isSingleIdMap(maps: IdMapping[] | undefined, ownId: number): boolean {
  return !maps?.length || (maps.length === 1 && maps[0]!.size === 1 && maps[0]!.hostID === ownId);
}

/** Post steps: newuidmap/newgidmap write the child's maps (the child still waits in await_release). */
export function idmapExecSteps(uidMappings: IdMapping[], gidMappings: IdMapping[]): Step[] {
  const args = (m: IdMapping[]) => m.flatMap((x) => [x.containerID, x.hostID, x.size]);
  const u = args(uidMappings), g = args(gidMappings);
  return [
    step('idmap_exec', [NEWUIDMAP, u.length, ...u], `write the uid mappings with ${NEWUIDMAP}`, NEWUIDMAP),
    step('idmap_exec', [NEWGIDMAP, g.length, ...g], `write the gid mappings with ${NEWGIDMAP}`, NEWGIDMAP),
  ];
}

/**
 * The parent's steps that map a new user namespace: the subordinate ranges through
 * newuidmap/newgidmap, or (single-id mode) the user's own id written directly.
 */
export function userNsMapSteps(mode: RootlessIds['mode'], uid: IdMapping[], gid: IdMapping[]): Step[] {
  if (mode === 'subids') return idmapExecSteps(uid, gid);
  const line = (m: IdMapping[]) => m.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join('');
  return [
    step('setgroups', ['deny'], 'deny setgroups in the user namespace'),
    step('idmap', ['uid', line(uid)], 'write the uid mappings'),
    step('idmap', ['gid', line(gid)], 'write the gid mappings'),
  ];
}

/**
 * A plan whose child becomes root of a new storage user namespace of `ids` (0 → the user, 1 + k →
 * the k-th subordinate id; in 'single' mode the helper writes the maps itself) and then runs
 * `tail`, which ends in an exec; the parent waits for that exec and for the exit.
 */
function storageNsPlan(ids: RootlessIds, tail: Step[]): Plan {
  const plan = emptyPlan();
  plan.pre.push(step('spawn', [CLONE_NEWUSER], 'create a user namespace'));
  plan.post.push(...userNsMapSteps(ids.mode, ids.storageUid, ids.storageGid));
  plan.post.push(step('release', [], 'release the process'), step('await_ready', [], 'wait for the process to start'), step('wait_exit', [], 'wait for the process to exit'));
  plan.child.push(step('await_release', [], 'wait for the maps'), step('user', [0, 0, -1], 'become root in the user namespace'), ...tail);
  return plan;
}

/** Run argv as root of a new storage user namespace of `ids` and wait; a non-zero exit is an error carrying its stderr. */
export async function runInStorageNs(ids: RootlessIds, argv: string[], what: string): Promise<void> {
  const plan = storageNsPlan(ids, [step('exec', [argv[0]!, argv.length, ...argv, 0], `run ${argv[0]}`, argv[0])]);
  const s = new HelperSession(plan, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  s.child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 4096) stderr += d.toString(); });
  try {
    await s.expect('ready', what);
    const m = await s.expect('exit', what);
    if (m.code !== 0) {
      throw new BerthError({ kind: 'system', op: what, message: `${what}: ${argv[0]} ${m.signal ? `killed by signal ${m.signal}` : `exited ${m.code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}` });
    }
  } finally {
    s.close();
    await s.exited;
  }
}

/** An owner to set in the storage namespace: path, storage-ns uid and gid, mode to set again (or null). */
export type OwnerRecord = [path: string, uid: number, gid: number, mode: number | null];

/**
 * The owners of files the user made, set as root of a storage user namespace (the native
 * `lchown_list` step: no program of its own). Started early, so that the helper, its namespace and
 * its maps are ready while the files are still being written; `finish` hands the list over and
 * waits, `cancel` ends it with nothing done.
 */
export class StorageChown {
  private readonly s: HelperSession;
  private stderr = '';
  private done = false;

  constructor(ids: RootlessIds, private readonly what: string) {
    const plan = storageNsPlan(ids, [step('lchown_list', [0], 'set the owners read on stdin'), step('exec', [TRUE, 1, TRUE, 0], 'end', TRUE)]);
    this.s = new HelperSession(plan, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.s.child.stdin?.on('error', () => { /* the helper failed: its error comes as a message */ });
    this.s.child.stderr?.on('data', (d: Buffer) => { if (this.stderr.length < 4096) this.stderr += d.toString(); });
  }

  async finish(records: OwnerRecord[]): Promise<void> {
    this.done = true;
    const stdin = this.s.child.stdin!;
    try {
      const lines = records.map(([p, u, g, m]) => `${u} ${g} ${m === null ? '-' : m.toString(8)} ${p}\0`);
      for (let i = 0; i < lines.length; i += 512) stdin.write(lines.slice(i, i + 512).join(''));
      stdin.end();
      await this.s.expect('ready', this.what);
      const m = await this.s.expect('exit', this.what);
      if (m.code !== 0) throw new BerthError({ kind: 'system', op: this.what, message: `${this.what}: setting the owners failed (exit ${m.code})${this.stderr.trim() ? `: ${this.stderr.trim()}` : ''}` });
    } finally {
      this.s.close();
      await this.s.exited;
    }
  }

  /** End it without setting anything (the unpack failed). */
  async cancel(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.s.child.stdin?.end();
    this.s.close();
    await this.s.exited.catch(() => undefined);
  }
}

const TRUE = '/bin/true';

/** `rm -rf` in the storage namespace: trees holding files of the container's ids. */
export function removeInStorageNs(ids: RootlessIds, paths: string[], what: string): Promise<void> {
  return runInStorageNs(ids, ['/bin/rm', '-rf', '--', ...paths], what);
}

