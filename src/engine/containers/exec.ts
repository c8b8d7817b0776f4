/** `exec`: a new process in a running container's namespaces and cgroup, as the container's user. */
import { BerthError, conflict } from '../../lib/index.js';
import { Container as RtContainer, exec as rtExec } from '../../runtime/index.js';
import { allCapabilities, getExecUser, parseGroup, parsePasswd, readRootfsFile } from '../spec/index.js';
import { snapshotter } from '../../image/index.js';
import { readThroughLayers, servedByFuse } from '../rootless/fuse.js';
import { reconcile } from './cleanup.js';
import type { EngineCore } from './core.js';

export interface ExecRequest {
  cmd: string[];
  tty?: boolean;
  /** the pty's first size [rows, cols] */
  consoleSize?: [number, number];
  detach?: boolean;
  env?: string[];
  user?: string;
  workdir?: string;
  privileged?: boolean;
  /** stdio of the process: our own fds (CLI) or pipes (library) */
  stdio?: Array<number | 'inherit' | 'ignore' | 'pipe'>;
  /** told the exec'd process's host pid once known */
  onPid?: (pid: number) => void;
  /** receives the helper child when stdio has pipes */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void;
}

export async function execInContainer(core: EngineCore, ref: string, r: ExecRequest): Promise<number> {
  const c = reconcile(core, core.store.containers.get(ref));
  const op = `exec in ${c.name}`;
  if (c.state.status === 'paused') throw conflict(op, `Container ${c.id} is paused, unpause the container before exec`);
  if (c.state.status !== 'running') throw conflict(op, `container ${c.id} is not running`);
  if (!r.cmd.length) throw new BerthError({ kind: 'usage', op, message: `${op}: no command given` });
  const rootfs = `/proc/${c.state.pid}/root`;
  const cfg = c.config as { User?: string; WorkingDir?: string };
  const rc = RtContainer.load(core.runtime, c.id, 'exec');
  // (--userns keep-id: Config.User is the user's own ids, set at create)
  const userSpec = r.user ?? cfg.User ?? '';
  let read = (p: string) => readRootfsFile(rootfs, p);
  if (c.snapshotKey && servedByFuse(core.paths(c.id).runDir)) { // rootless fuse-overlayfs: not readable from here
    const dirs = (await snapshotter(core.images)).layerDirs(c.snapshotKey);
    read = (p) => readThroughLayers(dirs, p);
  }
  const passwd = read('/etc/passwd');
  const group = read('/etc/group');
  const u = getExecUser(userSpec, passwd === undefined ? undefined : parsePasswd(passwd), group === undefined ? undefined : parseGroup(group));
  const env = [...(r.env ?? [])];
  if (u.home && !env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${u.home}`);
  const baseEnv = rc.st.config.process?.env ?? [];
  const keys = new Set(env.map((e) => e.split('=')[0]));
  const mergedEnv = [...baseEnv.filter((e) => !keys.has(e.split('=')[0]!)), ...env];
  core.event('container', `exec_create: ${r.cmd.join(' ')}`, c, { execID: '' });
  core.event('container', `exec_start: ${r.cmd.join(' ')}`, c, { execID: '' });
  const code = await rtExec(core.runtime, {
    id: c.id, args: r.cmd, tty: r.tty, consoleSize: r.consoleSize, detach: r.detach, cwd: r.workdir || cfg.WorkingDir || undefined,
    user: `${u.uid}:${u.gid}`, additionalGids: u.sgids.length ? u.sgids : undefined,
    caps: r.privileged ? allCapabilities() : undefined, envReplace: mergedEnv, stdio: r.stdio, onPid: r.onPid, onSpawn: r.onSpawn,
  });
  core.event('container', 'exec_die', c, { exitCode: String(code) });
  return code;
}

