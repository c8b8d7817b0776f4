/** A container as the runtime verbs see it: its stored state, its cgroup, its live status. */
import { conflict, BerthError } from '../lib/index.js';
import { openCgroup, type CgroupManager } from '../cgroups/index.js';
import { processAlive } from '../sys/index.js';
import { checkId, ociState, statusOf, StateDir, type Status, type StoredState } from './state.js';

export interface RuntimeOptions {
  root: string;
  /** Receives warnings and debug lines (the CLI sends them to --log). */
  log?: (level: 'debug' | 'info' | 'warning' | 'error', msg: string) => void;
  systemdCgroup?: boolean;
  /** The cgroup filesystem root (tests use fake roots). */
  cgroupRoot?: string;
  /** Keep compiled seccomp filters here (see seccomp-cache.ts); otherwise in memory only. */
  seccompCacheDir?: string;
}

export class Container {
  constructor(readonly opts: RuntimeOptions, readonly dir: StateDir, readonly st: StoredState, private cg?: CgroupManager | null) {}

  static load(opts: RuntimeOptions, id: string, op: string): Container {
    const dir = new StateDir(opts.root, checkId(id, op));
    return new Container(opts, dir, dir.load(op));
  }

  get id(): string { return this.st.id; }

  cgroup(): CgroupManager | null {
    if (this.cg === undefined) this.cg = this.st.cgroupPath ? openCgroup({ path: this.st.cgroupPath, root: this.opts.cgroupRoot }) : null;
    return this.cg;
  }

  status(): Status {
    return statusOf(this.st, this.dir, () => { try { return this.cgroup()?.isFrozen() ?? false; } catch { return false; } });
  }

  state(): ReturnType<typeof ociState> { return ociState(this.st, this.status()); }
  stateJson(status?: Status): string { return JSON.stringify(ociState(this.st, status ?? this.status())); }

  /** Fail unless the container is in one of `allowed`. */
  require(op: string, allowed: Status[]): Status {
    const s = this.status();
    if (!allowed.includes(s)) throw conflict(op, `${op} ${this.id}: container is ${s}, not ${allowed.join(' or ')}`);
    return s;
  }

  alive(): boolean { return processAlive(this.st.pid, this.st.startTime); }

  signal(sig: number, op: string): void {
    try { process.kill(this.st.pid, sig); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ESRCH') return;
      throw new BerthError({ kind: 'system', op, code, message: `${op} ${this.id}: signal ${sig} to pid ${this.st.pid}: ${code}` });
    }
  }

  /** Wait until the init process is gone (dead or zombie). */
  async waitGone(timeoutMs = 10000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.alive()) {
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    return true;
  }
}

