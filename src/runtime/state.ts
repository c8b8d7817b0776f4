/**
 * Container state on disk: <root>/<id>/state.json (+ exec.fifo while created).
 * The status is never stored: it is read from the kernel on every call (process alive with the
 * same start time, fifo present, cgroup frozen).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, conflict, invalid, notFound, wrapError } from '../lib/index.js';
import { processAlive } from '../sys/index.js';
import { OCI_VERSION, type Spec, type State } from '../oci/index.js';

export { OCI_VERSION };
export const DEFAULT_ROOT = '/run/berth-runtime';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface StoredState {
  id: string;
  bundle: string;
  rootfs: string;
  pid: number;
  startTime: number;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** The config as it was at create time: later edits of config.json do not affect the container. */
  config: Spec;
  /** cgroup path (as given to openCgroup), '' when the container has no cgroup of its own. */
  cgroupPath: string;
  rootless: boolean;
  /** Only set while create is under way. */
  creating?: boolean;
}

const ID_RE = /^[\w+.-]+$/;

export function checkId(id: string | undefined, op: string): string {
  if (!id) throw new BerthError({ kind: 'usage', op, message: `${op}: container id cannot be empty` });
  if (!ID_RE.test(id) || id === '.' || id === '..' || id.length > 1024) throw invalid(op, `${op}: invalid container id ${JSON.stringify(id)}: use letters, digits, '_', '+', '-' and '.'`);
  return id;
}

export class StateDir {
  constructor(readonly root: string, readonly id: string) {}
  get dir(): string { return join(this.root, this.id); }
  get file(): string { return join(this.dir, 'state.json'); }
  get fifo(): string { return join(this.dir, 'exec.fifo'); }

  /** Claim the id atomically (mkdir): fails when a container with this id exists. */
  claim(op: string): void {
    try { mkdirSync(this.root, { recursive: true, mode: 0o711 }); } catch (e) { throw wrapError(e, `${op}: create state root`, this.root); }
    try { mkdirSync(this.dir, { mode: 0o711 }); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(op, `${op}: container with id ${this.id} already exists`, this.dir);
      throw wrapError(e, `${op}: create state directory`, this.dir);
    }
  }

  save(state: StoredState): void {
    const tmp = this.file + '.tmp';
    try {
      // write + rename: readers see the old or the new state, never half of one (state lives on tmpfs: no fsync)
      writeFileSync(tmp, JSON.stringify(state));
      renameSync(tmp, this.file);
    } catch (e) { throw wrapError(e, 'save state', this.file); }
  }

  load(op: string): StoredState {
    let text: string;
    try { text = readFileSync(this.file, 'utf8'); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw notFound(op, existsSync(this.dir) ? `${op}: container ${this.id} is still being created (or its create was killed: delete it with --force)` : `${op}: container ${this.id} does not exist`);
      }
      throw wrapError(e, `${op}: read state`, this.file);
    }
    try { return JSON.parse(text) as StoredState; } catch { throw invalid(op, `${op}: state file of ${this.id} is corrupt`, this.file); }
  }

  remove(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

export function listIds(root: string): string[] {
  try { return readdirSync(root).filter((n) => ID_RE.test(n)).sort(); } catch { return []; }
}

/** The status as the kernel sees it now. `frozen` tells whether the cgroup freezer holds it. */
export function statusOf(st: StoredState, dir: StateDir, frozen: () => boolean): Status {
  if (st.creating) return 'creating';
  if (!processAlive(st.pid, st.startTime)) return 'stopped';
  if (existsSync(dir.fifo)) return 'created';
  if (st.cgroupPath && frozen()) return 'paused';
  return 'running';
}

/** The runtime-spec state object (plus runc's extra fields, which callers read). */
export function ociState(st: StoredState, status: Status): State & Record<string, unknown> {
  const s: State & Record<string, unknown> = {
    ociVersion: OCI_VERSION,
    id: st.id,
    pid: status === 'stopped' ? 0 : st.pid,
    status: (status === 'paused' ? 'paused' : status) as State['status'],
    bundle: st.bundle,
    rootfs: st.rootfs,
    created: st.created,
    owner: st.owner,
  };
  if (st.annotations && Object.keys(st.annotations).length) s.annotations = st.annotations;
  return s;
}
