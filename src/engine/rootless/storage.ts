/**
 * Rootless storage operations (issue 17): `cp`, `export` and a volume's copy-up read and write
 * the container's files, which belong to the user's subordinate ids, and a stopped container's
 * files must first be mounted (overlayfs), which an ordinary user may do only in a user
 * namespace of their own. So the engine runs that part in a child process (the CLI re-executed
 * with the internal verb {@link STORAGE_VERB}: storage-inner.ts) that is root of
 *  - a stopped container: a fresh user namespace with the container's id map (newuidmap) and a
 *    mount namespace of its own, where it mounts the snapshot (and the volumes and binds) on a
 *    private directory: nothing is mounted on the host, and the mounts end with the process;
 *  - a running container: the container's own user namespace (setns, as `exec` joins it), and it
 *    reaches the files through /proc/PID/root, where the container's mounts are.
 * Everything the child needs comes in the job (paths, mounts, the container record): it never
 * opens the engine's roots, and never takes itself for the rootful engine (its euid is 0).
 * Its stdout carries a tar (archive, export), its stdin one (extract); its results and errors
 * come on stderr as lines `RESULT_TAG json`. The outer process keeps the store and the events.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError, type ErrorKind } from '../../lib/index.js';
import type { Mount, Snapshotter } from '../../snapshots/index.js';
import { emptyPlan, HelperSession, step, userNsMapSteps, type IdMapping, type Plan, type RootlessIds } from '../../sys/index.js';
import { userIds } from './spec.js';

export const STORAGE_VERB = '__rootless-storage';
export const JOB_ENV = 'BERTH_STORAGE_JOB';
export const RESULT_TAG = '\u001eberth-storage';

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWUSER = 0x10000000;

/** A mount laid over the container's root for cp (a volume, a bind, a network file). */
export interface JobOverlay { source: string; target: string; readonly: boolean }

export type StorageTask =
  | { kind: 'stat'; path: string }
  | { kind: 'archive'; path: string }
  | { kind: 'extract'; path: string; copyUIDGID?: boolean; noOverwriteDirNonDir?: boolean; ownIds?: { uid: number; gid: number } }
  | { kind: 'export' }
  | { kind: 'copyup'; target: string; volume: string };

export interface StorageJob {
  /** The operation, for messages (`copy from container web`). */
  op: string;
  ref: string;
  /** The container's record (JSON), as the view gives it to the operation. */
  container: unknown;
  /** Running: the container's init (pid and start time) whose user namespace and root are used. */
  running?: { pid: number; startTime: number };
  /** Stopped: the snapshot's mounts and the (empty, private) directory they go on. */
  mounts?: Mount[];
  dir?: string;
  overlays: JobOverlay[];
  readonlyRootfs: boolean;
  task: StorageTask;
}

/** What the child reports on stderr. */
export type StorageMessage =
  | { type: 'stat'; stat: unknown }
  | { type: 'done'; value?: unknown }
  | { type: 'error'; error: { kind: ErrorKind; op: string; message: string; code?: string; path?: string } };

/**
 * The CLI entry to re-execute: the bundle's loader (dist/berth.cjs: its V8 code cache saves
 * compiling the bundle again), the bundle itself (dist/berth-main.cjs), or build/src/cli/berth-main.js.
 */
export function cliEntry(): string {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.cjs')) return join(dirname(self), '..', '..', 'cli', 'berth-main.js');
  const loader = self.replace(/-main\.cjs$/, '.cjs');
  return loader !== self && existsSync(loader) ? loader : self;
}

/** The maps of a container of this user (rootless/spec.ts): the subordinate ids, then the user's own id. */
function containerMaps(ids: RootlessIds): { uid: IdMapping[]; gid: IdMapping[] } {
  if (ids.mode === 'single') return { uid: ids.uidMappings, gid: ids.gidMappings };
  return {
    uid: [...ids.uidMappings, { containerID: ids.uidCount, hostID: ids.uid, size: 1 }],
    gid: [...ids.gidMappings, { containerID: ids.gidCount, hostID: ids.gid, size: 1 }],
  };
}

function jobPlan(job: StorageJob, ids: RootlessIds, argv: string[], env: string[]): Plan {
  const plan = emptyPlan();
  if (job.running) {
    const ns = `/proc/${job.running.pid}/ns/user`;
    plan.pre.push(step('setns', [ns, CLONE_NEWUSER], `join the user namespace of container ${job.ref}`, ns));
    plan.pre.push(step('spawn', [0], 'create the storage process'));
  } else {
    plan.pre.push(step('spawn', [CLONE_NEWUSER | CLONE_NEWNS], 'create a user and a mount namespace'));
    const maps = containerMaps(ids);
    plan.post.push(...userNsMapSteps(ids.mode, maps.uid, maps.gid));
  }
  plan.post.push(step('release', [], 'release the process'), step('await_ready', [], 'wait for the process to start'), step('wait_exit', [], 'wait for the process to exit'));
  plan.child.push(step('await_release', [], 'wait for the maps'), step('user', [0, 0, -1], 'become root in the user namespace'),
    step('exec', [argv[0]!, argv.length, ...argv, env.length, ...env], `run ${argv[0]}`, argv[0]));
  return plan;
}

/** A running job: its stdin and stdout, the stat (archive), and its end (the `done` value). */
export interface StorageRun {
  stdin: NodeJS.WritableStream;
  stdout: NodeJS.ReadableStream;
  /** The first `stat` message (stat, archive), or the job's failure. */
  stat: Promise<unknown>;
  /** The `done` value; rejects with the job's error. */
  done: Promise<unknown>;
  /** Give up (the consumer failed): its pipes are closed, so the child ends; wait for it. */
  stop(): Promise<void>;
}

function jobError(job: StorageJob, m: Extract<StorageMessage, { type: 'error' }>['error']): BerthError {
  return new BerthError({ kind: m.kind, op: m.op, message: m.message, code: m.code, path: m.path });
}

/** Start a job (see the file comment). The caller must consume stdout and wait for `done`. */
export function startStorageJob(job: StorageJob, ids: RootlessIds = userIds()): StorageRun {
  const argv = [process.execPath, cliEntry(), STORAGE_VERB];
  const env = [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, `${JOB_ENV}=${JSON.stringify(job)}`, ...(process.env.BERTH_DEBUG ? ['BERTH_DEBUG=1'] : [])];
  const s = new HelperSession(jobPlan(job, ids, argv, env), { stdio: ['pipe', 'pipe', 'pipe'] });
  const child: ChildProcess = s.child;
  let text = '';
  let buf = '';
  let result: StorageMessage | undefined;
  let onStat: ((v: unknown) => void) | undefined;
  let statErr: ((e: unknown) => void) | undefined;
  const stat = new Promise<unknown>((res, rej) => { onStat = res; statErr = rej; });
  stat.catch(() => undefined);
  child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith(RESULT_TAG + ' ')) {
        let m: StorageMessage;
        try { m = JSON.parse(line.slice(RESULT_TAG.length + 1)) as StorageMessage; } catch { continue; }
        if (m.type === 'stat') onStat!(m.stat);
        else { result = m; if (m.type === 'error') statErr!(jobError(job, m.error)); }
      } else if (text.length < 4096) text += line + '\n';
    }
  });
  // a consumer that stops reading (or a child that dies) must not crash the engine with EPIPE
  child.stdin!.on('error', () => undefined);
  child.stdout!.on('error', () => undefined);
  const done = (async () => {
    try {
      await s.expect('ready', job.op);
      const m = await s.expect('exit', job.op);
      await new Promise<void>((r) => { if (child.stderr!.readableEnded) r(); else child.stderr!.once('close', () => r()); });
      if (result?.type === 'error') throw jobError(job, result.error);
      if (m.code !== 0 || result?.type !== 'done') {
        const why = m.signal ? `killed by signal ${m.signal}` : `exited ${m.code}`;
        throw new BerthError({ kind: 'system', op: job.op, message: `${job.op}: the rootless storage process ${why}${text.trim() ? `: ${text.trim()}` : ''}` });
      }
      return result.value;
    } finally {
      s.close();
      await s.exited;
    }
  })();
  done.catch((e: unknown) => statErr!(e));
  return {
    stdin: child.stdin!, stdout: child.stdout!, stat, done,
    async stop() {
      child.stdout!.destroy();
      child.stdin!.destroy();
      await done.catch(() => undefined);
    },
  };
}

/**
 * Copy-up (files/copyup.ts) for a rootless container: a new, empty volume gets the image's
 * content at `target`, copied by a storage process that mounts the snapshot in its own
 * namespaces (the files keep the container's owners, which only root of its user namespace may
 * give). True when something was copied.
 */
export async function copyUpRootless(snaps: Snapshotter, runRoot: string, snapshotKey: string, target: string, volume: string): Promise<boolean> {
  const mounts = snaps.mounts(snapshotKey);
  mkdirSync(runRoot, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(runRoot, 'copyup-'));
  try {
    const run = startStorageJob({ op: `copy ${target} of the image into volume ${volume}`, ref: '', container: {}, mounts, dir, overlays: [], readonlyRootfs: false, task: { kind: 'copyup', target, volume } });
    run.stdout.resume();
    return (await run.done) as boolean;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
