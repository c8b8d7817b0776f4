/**
 * The rootless storage process (storage.ts): the CLI's internal verb, run as root of a user
 * namespace the user owns. It reads its job from the environment, makes the container's view
 * (a stopped one's snapshot mounted in its own mount namespace; a running one's root through
 * /proc/PID/root), runs the task and reports on stderr. It opens none of the engine's roots.
 */
import { constants as fsc, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BerthError, describeError } from '../../lib/index.js';
import { mountAll } from '../../snapshots/index.js';
import { closeFd, fdPath, mount, MS_PRIVATE, MS_REC, O_PATH, openat2, openDirPath, openInRoot } from '../../sys/index.js';
import { archiveInView, extractInView, statInView } from '../containers/cp.js';
import { mountedView, packTreeFd, type ContainerView } from '../containers/export.js';
import { copyUp } from '../files/index.js';
import type { Container } from '../store/index.js';
import { JOB_ENV, RESULT_TAG, type StorageJob, type StorageMessage } from './storage.js';

function report(m: StorageMessage): void {
  process.stderr.write(`${RESULT_TAG} ${JSON.stringify(m)}\n`);
}

/** The running container's `/`, through its pinned /proc/PID whose start time is the recorded one. */
function runningRoot(job: StorageJob): number {
  const { pid, startTime } = job.running!;
  const gone = (cause?: unknown) => new BerthError({ kind: 'conflict', op: job.op, cause, message: `${job.op}: container ${job.ref} is not running (its process is gone)` });
  let proc: number;
  try { proc = openDirPath(`/proc/${pid}`); } catch (e) { throw gone(e); }
  try {
    const stat = readFileSync(fdPath(proc, 'stat'), 'latin1');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) !== startTime) throw gone();
    return openat2(proc, 'root', O_PATH | fsc.O_DIRECTORY, 0);
  } catch (e) {
    throw e instanceof BerthError ? e : gone(e);
  } finally {
    closeFd(proc);
  }
}

/** Not the initial user namespace (whose map is the identity of every id): never act as the host's root. */
function inUserNamespace(): boolean {
  try { return !/^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8')); } catch { return false; }
}

async function task(job: StorageJob, v: ContainerView): Promise<unknown> {
  const t = job.task;
  switch (t.kind) {
    case 'stat':
      return statInView(v, t.path, job.ref);
    case 'archive': {
      const { stat, abs, archive } = archiveInView(v, t.path, job.ref);
      report({ type: 'stat', stat });
      await pipeline(archive, process.stdout, { end: false });
      return abs;
    }
    case 'extract':
      return extractInView(v, t.path, job.ref, process.stdin as Readable, t, job.op);
    case 'export':
      await pipeline(packTreeFd(openInRoot(v.rootFd, '/'), ''), process.stdout, { end: false });
      return undefined;
    case 'copyup':
      return (await copyUp(v.root, t.target, t.volume)).copied;
  }
}

/** The verb's body: exit 0 with a `done` report, or 1 with an `error` one. */
export async function runStorageJob(): Promise<number> {
  const text = process.env[JOB_ENV];
  delete process.env[JOB_ENV];
  let job: StorageJob | undefined;
  try {
    if (!text || process.geteuid?.() !== 0 || !inUserNamespace()) throw new BerthError({ kind: 'usage', op: 'rootless storage', message: 'rootless storage: an internal command of the rootless engine (run only in a user namespace of its own)' });
    job = JSON.parse(text) as StorageJob;
    const j = job;
    const container = j.container as Container;
    let value: unknown;
    if (j.running) {
      const rootFd = runningRoot(j);
      try {
        const mounts = j.overlays.map((m) => ({ target: m.target, readonly: m.readonly }));
        value = await task(j, { root: `/proc/${j.running.pid}/root/.`, rootFd, container, mounts, readonlyRootfs: j.readonlyRootfs });
      } finally {
        closeFd(rootFd);
      }
    } else {
      // this mount namespace is the process's own; nothing mounted here reaches the host's
      mount(null, '/', null, MS_REC | MS_PRIVATE);
      const dir = j.dir!;
      value = await mountedView(dir, async () => mountAll(j.mounts!, dir), j.overlays, container, j.readonlyRootfs, j.op, (v) => task(j, v));
    }
    report({ type: 'done', value });
    await new Promise<void>((r) => process.stdout.end(() => r()));
    return 0;
  } catch (e) {
    const op = job?.op ?? 'rootless storage';
    const b = e instanceof BerthError ? e : new BerthError({ kind: 'system', op, message: `${op}: ${describeError(e)}`, code: (e as NodeJS.ErrnoException).code });
    report({ type: 'error', error: { kind: b.kind, op: b.op, message: b.message, code: b.code, path: b.path } });
    return 1;
  }
}
