/**
 * The three engines of bench/engine.ts on private temp roots, each with the same busybox image
 * imported as `busybox:latest` (Cmd sh): berth (its CLI, BERTH_ROOT/BERTH_RUN_ROOT), docker
 * (a dockerd of its own: --data-root/--exec-root/-H unix socket, own managed containerd) and
 * podman (--root/--runroot/--tmpdir, cgroupfs, file events, overlay). `stop()` removes every
 * container, stops the daemon, kills what is left in our containers' cgroups or on our roots,
 * unmounts and deletes the roots — it is safe to call after a failed or partial setup.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cgroupsPresent, comm, killLeftovers, pidsAlive, ppid, removeCgroupsCreated, unmountUnder } from './engine-proc.js';

/** A path as results record it: relative to the checkout (results name no machine's paths). */
const shown = (p: string): string => (p.startsWith('/') && !p.startsWith('/usr') && !p.startsWith('/bin') ? relative(process.cwd(), p) || '.' : p);

export type EngineName = 'berth' | 'berth-worker' | 'docker' | 'podman';

export interface Result { ms: number; status: number | null; stdout: string; stderr: string }

export interface Engine {
  name: EngineName;
  /** The argv that runs this engine's CLI with `args`. */
  argv(args: string[]): string[];
  env: NodeJS.ProcessEnv;
  /** Force-remove argv prefix (podman: `rm -f -t 0`, see setupPodman). */
  rm: string[];
  /** comm of the per-container process that supervises the container's init. */
  monitor: string;
  /** Every container id this benchmark created with the engine (for the last-resort clean-up). */
  ids: Set<string>;
  /** What differs from the plain command (workarounds, runtimes) — printed with the results. */
  notes: string[];
  version: string;
  /** Pids of the engine's long-running daemons (docker: dockerd and its containerd), if any. */
  daemons?: () => number[];
  stop(): Promise<string[]>;
}

/** Run the engine's CLI once, timed (wall clock around spawnSync). */
export function exec(e: Engine, args: string[], env?: NodeJS.ProcessEnv): Result {
  const argv = e.argv(args);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? e.env, encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw new Error(`${e.name}: ${argv.join(' ')}: ${r.error.message}`);
  return { ms, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** exec() that throws with the command and its stderr unless it exits 0. */
export function must(e: Engine, args: string[], env?: NodeJS.ProcessEnv): Result {
  const r = exec(e, args, env);
  if (r.status !== 0) throw new Error(`${e.name} ${args.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  return r;
}

const IMPORT = (tar: string) => ['import', '-c', 'CMD ["sh"]', tar, 'busybox:latest'];

/** Force-remove all containers the engine lists plus those we recorded, in chunks. */
function removeAll(e: Engine, report: string[]): void {
  const listed = exec(e, ['ps', '-aq', '--no-trunc']);
  const ids = new Set([...e.ids, ...(listed.status === 0 ? listed.stdout.split('\n').map((s) => s.trim()).filter(Boolean) : [])]);
  const all = [...ids];
  for (let i = 0; i < all.length; i += 100) {
    const r = exec(e, [...e.rm, ...all.slice(i, i + 100)]);
    // "No such container" for ids already removed is expected here.
    if (r.status !== 0 && !/no such container|no container with/i.test(r.stderr)) report.push(`${e.name} rm -f: ${r.stderr.trim().slice(-500)}`);
  }
}

async function finish(e: Engine, dirs: string[], report: string[]): Promise<string[]> {
  report.push(...(await killLeftovers(e.ids, dirs, [e.monitor])).map((s) => `${e.name}: ${s}`));
  report.push(...unmountUnder(dirs).map((m) => `${e.name}: unmounted ${m}`));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  return report;
}

/** The berth command as installed: the native front (here always running Node: BERTH_NO_WORKER=1). */
export function berthCli(repo: string): string[] {
  if (process.env.BENCH_BERTH_CLI) return [process.execPath, process.env.BENCH_BERTH_CLI];
  const front = join(repo, 'dist', 'berth');
  return existsSync(front) ? [front] : [process.execPath, join(repo, 'dist', 'berth.cjs')];
}

export async function setupBerth(work: string, tar: string, repo: string, onCreated: (e: Engine) => void): Promise<Engine> {
  const root = join(work, 'berth');
  const runRoot = mkdtempSync('/tmp/bbe-'); // short: unix socket paths under it must stay < 108 bytes
  const cli = berthCli(repo);
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_ROOT: root, BERTH_RUN_ROOT: runRoot, BERTH_NO_WORKER: '1' };
  delete env.BERTH_CONFIG;
  delete env.BERTH_TRACE;
  const e: Engine = {
    name: 'berth', argv: (args) => [...cli, ...args], env, rm: ['rm', '-f'], monitor: 'berth-monitor', ids: new Set(), notes: [], version: '',
    async stop() { const report: string[] = []; removeAll(e, report); return finish(e, [runRoot, root], report); },
  };
  onCreated(e);
  if (!existsSync(cli.at(-1)!)) throw new Error(`berth CLI ${cli.at(-1)} not found (build it: node scripts/build.mjs, or set BENCH_BERTH_CLI)`);
  e.version = `${must(e, ['--version']).stdout.trim()} (${cli.map(shown).join(' ')}${cli.length === 1 ? ', BERTH_NO_WORKER=1: a Node process per command' : ''})`;
  must(e, IMPORT(tar));
  return e;
}

/**
 * berth with a warm `berth worker` (started here, like docker's dockerd) and the native front
 * dist/berth, which hands each command to it; own roots, same image.
 */
export async function setupBerthWorker(work: string, tar: string, repo: string, onCreated: (e: Engine) => void): Promise<Engine> {
  const root = join(work, 'berth-worker');
  const runRoot = mkdtempSync('/tmp/bbw-');
  const front = join(repo, 'dist', 'berth');
  const socket = join(runRoot, 'cli.sock');
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_ROOT: root, BERTH_RUN_ROOT: runRoot, BERTH_WORKER_SOCKET: socket };
  delete env.BERTH_CONFIG;
  delete env.BERTH_TRACE;
  delete env.BERTH_NO_WORKER;
  const log = join(runRoot, 'worker.log');
  const fd = openSync(log, 'w');
  const proc = spawn(process.execPath, [join(repo, 'dist', 'berth.cjs'), 'worker', '--socket', socket], { env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const e: Engine = {
    name: 'berth-worker', argv: (args) => [front, ...args], env, rm: ['rm', '-f'], monitor: 'berth-monitor', ids: new Set(),
    notes: ['berth-worker: the native front dist/berth handing each command to a warm `berth worker` (started before the benchmark, like dockerd)'],
    version: '', daemons: () => (proc.exitCode === null && proc.pid ? [proc.pid] : []),
    async stop() {
      const report: string[] = [];
      removeAll(e, report);
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => { const t = setTimeout(r, 15000); proc.once('exit', () => { clearTimeout(t); r(undefined); }); });
      }
      return finish(e, [runRoot, root], report);
    },
  };
  onCreated(e);
  if (!existsSync(front)) throw new Error(`${front} not found (build it: node scripts/build.mjs)`);
  await waitFor('berth worker', () => existsSync(socket), proc, log);
  e.version = `${must(e, ['--version']).stdout.trim()} (${shown(front)} → berth worker)`;
  must(e, IMPORT(tar));
  return e;
}

async function waitFor(what: string, ok: () => boolean, proc: ChildProcess, log: string, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (proc.exitCode !== null) throw new Error(`${what}: exited ${proc.exitCode}: ${readFileSync(log, 'utf8').slice(-2000)}`);
    if (Date.now() > end) throw new Error(`${what}: not ready after ${timeoutMs} ms: ${readFileSync(log, 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function setupDocker(work: string, tar: string, onCreated: (e: Engine) => void): Promise<Engine> {
  const dir = join(work, 'docker');
  mkdirSync(join(dir, 'cli'), { recursive: true });
  const sock = join(dir, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  const client = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker'; // docker.io's client, same version as dockerd
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: join(dir, 'cli') };
  delete env.DOCKER_HOST;
  if (!existsSync('/usr/sbin/dockerd')) throw new Error('/usr/sbin/dockerd not installed');
  const cgroupParent = `bench-engine-${process.pid}`; // ours alone, removed at the end
  const fd = openSync(log, 'w');
  // detached: its own process group, so a Ctrl-C of the benchmark does not hit it before stop().
  const proc = spawn('/usr/sbin/dockerd', ['--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec'), '-H', `unix://${sock}`,
    '--pidfile', join(dir, 'dockerd.pid'), '--iptables=false', '--ip6tables=false', '--bridge=none', '--containerd-namespace', `bench-${process.pid}`, '--cgroup-parent', `/${cgroupParent}`],
  { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  proc.on('error', () => undefined);
  const e: Engine = {
    name: 'docker', argv: (args) => [client, '-H', `unix://${sock}`, ...args], env, rm: ['rm', '-f'], monitor: 'containerd-shim', ids: new Set(), notes: [], version: '',
    daemons: () => (proc.pid && proc.exitCode === null ? [proc.pid, ...pidsAlive().filter((p) => ppid(p) === proc.pid && comm(p) === 'containerd')] : []),
    async stop() {
      const report: string[] = [];
      if (proc.exitCode === null && existsSync(sock)) removeAll(e, report);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const gone = await Promise.race([new Promise((r) => proc.once('exit', () => r(true))), new Promise((r) => setTimeout(() => r(false), 20000))]);
        if (!gone) { report.push('docker: dockerd did not stop in 20 s: SIGKILL'); proc.kill('SIGKILL'); }
      }
      await finish(e, [dir], report);
      // Its own cgroup parent, made by dockerd: removing it is routine, not worth a line.
      removeCgroupsCreated([cgroupParent], new Set());
      return report;
    },
  };
  onCreated(e);
  await waitFor('dockerd', () => existsSync(sock) && exec(e, ['version']).status === 0, proc, log);
  e.version = `dockerd ${must(e, ['version', '-f', '{{.Server.Version}}']).stdout.trim()}, client ${client}`;
  must(e, IMPORT(tar));
  return e;
}

/** Hard limits of this process (root here lacks CAP_SYS_RESOURCE: nothing may be set above them). */
function hardLimit(name: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name));
  const v = line?.slice(26).trim().split(/\s+/)[1];
  return v === undefined || v === 'unlimited' ? Infinity : Number(v);
}

/** Podman's (cgroupfs) parents: removed at the end when this benchmark made them and they are empty. */
const PODMAN_CGROUPS = ['libpod_parent', 'libpod_parent/conmon'];

export async function setupPodman(work: string, tar: string, onCreated: (e: Engine) => void): Promise<Engine> {
  const dir = join(work, 'podman');
  mkdirSync(dir, { recursive: true });
  // Podman (as root) asks for RLIMIT_NOFILE/NPROC 1048576 in every container, which fails without
  // CAP_SYS_RESOURCE; and podman itself lowers its own RLIMIT_NPROC to 32768 before it starts the
  // runtime. So default_ulimits at what this process may keep.
  const nofile = Math.min(hardLimit('Max open files'), 1048576);
  const nproc = Math.min(hardLimit('Max processes'), 32768);
  writeFileSync(join(dir, 'containers.conf'), `[containers]\ndefault_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
  const globals = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'),
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--storage-driver', 'overlay'];
  let runtime: string[] = [];
  const cgroupsBefore = cgroupsPresent(PODMAN_CGROUPS);
  const e: Engine = {
    name: 'podman', argv: (args) => ['podman', ...globals, ...runtime, ...args], env, rm: ['rm', '-f', '-t', '0'], monitor: 'conmon', ids: new Set(),
    notes: ['podman: `rm -f -t 0` (plain `rm -f` first tries SIGTERM and waits 10 s for a PID 1 that ignores it; docker and berth SIGKILL at once)',
      `podman: default_ulimits nofile=${nofile}:${nofile} nproc=${nproc}:${nproc} (CONTAINERS_CONF): its default 1048576 needs CAP_SYS_RESOURCE, which root lacks here`],
    version: '',
    async stop() {
      const report: string[] = [];
      removeAll(e, report);
      await finish(e, [dir], report);
      removeCgroupsCreated(PODMAN_CGROUPS, cgroupsBefore); // routine: podman leaves its parents behind
      return report.filter((l) => !l.endsWith(`unmounted ${join(dir, 'root', 'overlay')}`)); // routine too: its storage's private bind mount
    },
  };
  onCreated(e);
  e.version = must(e, ['--version']).stdout.trim();
  must(e, IMPORT(tar));
  const probe = exec(e, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
  if (probe.status !== 0) {
    runtime = ['--runtime', 'runc'];
    const again = exec(e, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
    if (again.status !== 0) throw new Error(`podman run: default runtime: ${probe.stderr.trim()}; runc: ${again.stderr.trim()}`);
    e.notes.push(`podman: --runtime runc (its default runtime failed here: ${probe.stderr.trim().split('\n').pop()})`);
  }
  return e;
}
