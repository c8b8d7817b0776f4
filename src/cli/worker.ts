/**
 * `berth worker`: a warm engine process. The native `berth` front (native/client.c) hands each
 * command to it over a unix socket instead of starting Node: the command runs here, in this
 * process, with its client's argv, environment, working directory, streams and signals (see
 * context.ts), so the ~150 ms of Node start-up and module loading are paid once. Containers do
 * not depend on the worker: each still has its own monitor, and the store is the same SQLite
 * file every `berth` process uses. A command that needs its own terminal (`-t`, `attach`,
 * `exec`, `login`, `-i` from a terminal) is declined before anything happens, and the front
 * runs it in a fresh Node process.
 *
 * The front starts a worker itself when none listens on its run root's socket (`--auto`: see
 * worker-auto.ts for the idle timeout and the opt-out), and a `berth serve` is one too
 * (serveCliSocket). A worker of another build than the front's retires when a front says so.
 *
 * Frames both ways: [type u8][length u32 BE][payload].
 *   client → worker: H hello (NUL-separated: magic[ SP build], cwd, umask (octal), tty0, tty1,
 *                    tty2, rows, cols, argc, argv…, env…), I stdin data (empty = EOF), S signal number
 *   worker → client: A accepted, D declined (run it yourself; payload: why), V another build
 *                    (this process retires: start a current one), O stdout, E stderr,
 *                    R start sending stdin, X exit status (decimal)
 */
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { constants as osConstants } from 'node:os';
import { setTraceSink, usage } from '../lib/index.js';
import { shareHelperImage } from '../sys/index.js';
import { currentContext, installEnvProxy, runInContext, type CliContext } from './context.js';
import { parseCommand, printErr, type CommandSpec } from './image/common.js';
import { bool, str } from './flags.js';
import { parseGoDuration } from './system/events.js';
import { GLOBAL_FLAGS, main, unexpected } from './commands.js';
import { getEngine, selfCommand, setEngineCache, type EngineCache } from './container/common.js';
import { resolveOptions, type Engine } from '../engine/index.js';
import { MAGIC, SocketInUse, buildId, listenCli, releaseStartLock, watchSocket, type CliSocket } from './worker-listen.js';
import { autoIdleTimeout, warmDisabled } from './worker-auto.js';
import { settleWhenIdle } from './worker-idle.js';

export { MAGIC };
export const DEFAULT_WORKER_SOCKET = '/run/berth/cli.sock';

const spec: CommandSpec = {
  name: 'worker',
  usage: 'berth worker [OPTIONS]',
  description: 'Keep a warm engine process that the berth front hands commands to',
  args: [0, 0],
  flags: [
    { name: 'socket', type: 'string', help: 'Socket to listen on (default $BERTH_WORKER_SOCKET or /run/berth/cli.sock)' },
    { name: 'idle-timeout', type: 'string', help: 'Exit after this long without commands (0: never; default 0, with --auto 10m)' },
    { name: 'auto', type: 'bool', help: 'Started by the front: quiet exit when another listens; idle timeout from BERTH_WORKER_IDLE_TIMEOUT or the config' },
  ],
};

export interface Hello {
  /** the front's build (worker-listen.ts buildId), when it manages this worker */
  build?: string;
  cwd: string;
  umask: number;
  ttys: [boolean, boolean, boolean];
  rows: number;
  cols: number;
  argv: string[];
  env: NodeJS.ProcessEnv;
}

export function parseHello(payload: Buffer): Hello {
  const f = payload.toString('utf8').split('\0');
  if (f[f.length - 1] === '') f.pop();
  const m0 = f[0] ?? '';
  if (m0 !== MAGIC && !m0.startsWith(`${MAGIC} `)) throw new Error(`not a ${MAGIC} hello`);
  const build = m0.slice(MAGIC.length + 1);
  const argc = Number(f[8]);
  if (f.length < 9 || !Number.isInteger(argc) || argc < 0 || f.length < 9 + argc) throw new Error('truncated hello');
  const env: NodeJS.ProcessEnv = {};
  for (const kv of f.slice(9 + argc)) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    ...(build ? { build } : {}),
    cwd: f[1]!, umask: parseInt(f[2]!, 8), ttys: [f[3] === '1', f[4] === '1', f[5] === '1'],
    rows: Number(f[6]) || 0, cols: Number(f[7]) || 0, argv: f.slice(9, 9 + argc), env,
  };
}

const OWN_PROCESS = new Set(['worker', 'serve', 'attach', 'exec', 'login']);

/**
 * Whether a command needs a process of its own on the client's terminal (a tty, raw mode, or
 * stdio handed to a child as file descriptors). Errs on the side of declining.
 */
export function needsOwnProcess(argv: string[], stdinTTY: boolean): boolean {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('--') && argv[i] !== '--help' && argv[i] !== '--version') {
    i += Object.hasOwn(GLOBAL_FLAGS, argv[i]!) ? 2 : 1; // `--flag value`; `--flag=value` is one
  }
  let cmd = argv[i];
  let rest = argv.slice(i + 1);
  if (cmd === 'container') { cmd = rest[0]; rest = rest.slice(1); }
  if (!cmd) return false;
  if (OWN_PROCESS.has(cmd)) return true;
  if (cmd !== 'run' && cmd !== 'create' && cmd !== 'start') return false;
  for (const a of rest) {
    if (a === '--') break;
    const short = /^-[a-zA-Z]+$/.test(a);
    if (a === '--tty' || a.startsWith('--tty=') || (short && a.includes('t'))) return true;
    if (stdinTTY && (a === '--interactive' || a.startsWith('--interactive=') || (short && a.includes('i')))) return true;
  }
  return false;
}

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([k, v]) => [v as number, k as NodeJS.Signals]));

function frame(type: string, data?: Buffer | string): Buffer {
  const body = data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** A stream of the client's: writes become frames; nothing is raised once the client is gone. */
function clientStream(conn: Socket, type: string, tty: boolean, rows: number, cols: number): Writable {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (conn.destroyed || !conn.writable) { cb(); return; }
      conn.write(frame(type, chunk), () => cb());
    },
  });
  Object.assign(w, { isTTY: tty }, tty ? { rows: rows || 24, columns: cols || 80 } : {});
  return w;
}

/** The data root as it is now: a root removed and made again is another one. */
function rootIdentity(root: string): string | undefined {
  try {
    const st = statSync(root, { bigint: true });
    return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
  } catch { return undefined; }
}

/**
 * Engines kept open across commands, one per resolved options (and registry credentials
 * source), while their data root stays the same directory; one given up is closed once no
 * command uses it.
 */
export class WorkerEngines implements EngineCache {
  private readonly byKey = new Map<string, { engine: Engine; root: string; id: string | undefined }>();
  private readonly users = new Map<Engine, number>();
  private readonly retired = new Set<Engine>();

  get(make: () => Engine): Engine {
    const opts = resolveOptions({ selfCommand: selfCommand() });
    const key = JSON.stringify([opts, process.env.DOCKER_CONFIG ?? '', process.env.HOME ?? '']);
    const id = rootIdentity(opts.root);
    let hit = this.byKey.get(key);
    if (hit && (hit.id === undefined || hit.id !== id)) {
      this.byKey.delete(key);
      this.retire(hit.engine);
      hit = undefined;
    }
    if (!hit) {
      hit = { engine: make(), root: opts.root, id };
      this.byKey.set(key, hit);
    }
    this.users.set(hit.engine, (this.users.get(hit.engine) ?? 0) + 1);
    return hit.engine;
  }

  release(engine: Engine): void {
    const n = (this.users.get(engine) ?? 1) - 1;
    if (n > 0) { this.users.set(engine, n); return; }
    this.users.delete(engine);
    // a root made by this command: known from now on
    for (const v of this.byKey.values()) if (v.engine === engine && v.id === undefined) v.id = rootIdentity(v.root);
    if (this.retired.delete(engine)) void engine.close().catch(() => undefined);
  }

  private retire(engine: Engine): void {
    if (this.users.has(engine)) this.retired.add(engine);
    else void engine.close().catch(() => undefined);
  }

  /** Share an engine already open (berth serve's) with the commands of its options; never closed here. */
  adopt(engine: Engine): void {
    const opts = engine.core.options;
    const key = JSON.stringify([{ ...opts, selfCommand: selfCommand() }, process.env.DOCKER_CONFIG ?? '', process.env.HOME ?? '']);
    this.byKey.set(key, { engine, root: opts.root, id: rootIdentity(opts.root) });
    this.users.set(engine, 1);
  }

  async closeAll(except?: Engine): Promise<void> {
    const all = [...this.byKey.values()].map((v) => v.engine).filter((e) => e !== except);
    this.byKey.clear();
    await Promise.all(all.map((e) => e.close().catch(() => undefined)));
  }
}

interface WorkerState {
  inflight: number;
  contexts: Set<CliContext>;
  touched: () => void;
  /** this process's build: a front of another build makes it retire */
  build: string;
  /** stop taking commands (those running finish) */
  retire: () => void;
}

function serve(conn: Socket, state: WorkerState): void {
  let buf: Buffer = Buffer.alloc(0);
  let ctx: CliContext | undefined;
  let input: Readable | undefined;
  conn.on('error', () => { /* the client went away */ });
  const send = (type: string, data?: Buffer | string) => { if (!conn.destroyed && conn.writable) conn.write(frame(type, data)); };
  const onFrame = (type: string, payload: Buffer) => {
    if (type === 'H' && !ctx) { ctx = start(payload); return; }
    if (type === 'I' && input) { input.push(payload.length ? Buffer.from(payload) : null); return; }
    if (type === 'S' && ctx) {
      const sig = SIGNAL_NAMES.get(Number(payload.toString()));
      if (sig) ctx.signals.emit(sig);
    }
  };
  conn.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      const type = String.fromCharCode(buf[0]!);
      const payload = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      onFrame(type, payload);
    }
  });
  const decline = (why: string) => { send('D', why); conn.end(); return undefined; };

  const start = (payload: Buffer): CliContext | undefined => {
    let h: Hello;
    try { h = parseHello(payload); } catch { return decline('protocol'); }
    if (h.build !== undefined && h.build !== state.build) {
      // the front runs another build of berth (an upgrade, or `berth serve` taking the socket):
      // this process leaves the socket first, so the front finds it free
      state.retire();
      send('V', state.build);
      conn.end();
      return undefined;
    }
    if (needsOwnProcess(h.argv, h.ttys[0])) return decline('terminal');
    // one working directory and umask per process: a command from elsewhere waits for none
    if (h.cwd !== process.cwd()) {
      if (state.inflight > 0) return decline('cwd');
      try { process.chdir(h.cwd); } catch { return decline('cwd'); }
    }
    if (h.umask !== process.umask()) {
      if (state.inflight > 0 || !(h.umask >= 0 && h.umask <= 0o777)) return decline('umask');
      process.umask(h.umask);
    }
    let asked = false;
    input = new Readable({ read() { if (!asked) { asked = true; send('R'); } } });
    Object.assign(input, { isTTY: h.ttys[0] });
    const out = clientStream(conn, 'O', h.ttys[1], h.rows, h.cols);
    const err = clientStream(conn, 'E', h.ttys[2], h.rows, h.cols);
    const c: CliContext = { io: { out, err, in: input }, env: h.env, signals: new EventEmitter(), slots: new Map(), startedAt: performance.now() };
    c.signals.on('error', () => { /* never raised */ });
    send('A');
    state.inflight++;
    state.contexts.add(c);
    state.touched(); // (no idle timer while a command runs)
    conn.on('close', () => { input?.push(null); c.signals.emit('hangup'); });
    void (async () => {
      let code = 125;
      try {
        code = await runInContext(c, () => main(h.argv));
      } catch (e) {
        err.write(unexpected(undefined, e)); // (main reports its commands' errors itself)
      } finally {
        state.inflight--;
        state.contexts.delete(c);
        // an idle worker holds no client's directory (it could keep a file system busy)
        if (state.inflight === 0) try { process.chdir('/'); } catch { /* stays */ }
        state.touched();
      }
      await Promise.all([out, err].map((s) => new Promise<void>((r) => s.end(() => r()))));
      send('X', String(code));
      conn.end();
    })();
    return c;
  };
}

/**
 * What makes a process warm, once: commands see their own environment (the proxy), helpers run
 * from one sealed image, BERTH_TRACE marks go to the command's stderr, engines stay open across
 * commands (`adopt`: the process's own engine, berth serve's, is shared with them); memory is
 * given back after each burst of work (worker-idle.ts).
 */
function warmUp(adopt?: Engine): WorkerEngines {
  installEnvProxy();
  shareHelperImage();
  // BERTH_TRACE=1 of a served command: marks on its stderr, from its start
  setTraceSink({
    enabled: () => !!currentContext()?.env.BERTH_TRACE,
    now: () => performance.now() - (currentContext()?.startedAt ?? 0),
    write: (line) => { currentContext()?.io.err.write(line); },
  });
  const engines = new WorkerEngines();
  if (adopt) engines.adopt(adopt);
  setEngineCache(engines);
  // one command's stray rejection must not end the others (nor a berth serve): logged
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', (e) => { process.stderr.write(`berth worker: unhandled rejection: ${(e as Error)?.stack ?? String(e)}\n`); });
  settleWhenIdle();
  return engines;
}

function newState(build: string, idleMs: number, idle: () => void, retire: () => void): WorkerState & { retired: boolean } {
  let idleTimer: NodeJS.Timeout | undefined;
  const state = {
    inflight: 0, contexts: new Set<CliContext>(), build, retired: false,
    touched: () => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = undefined;
      if (state.inflight > 0) return;
      if (state.retired) idle();
      else if (idleMs > 0) idleTimer = setTimeout(idle, idleMs).unref(); // (the socket keeps the process up)
    },
    retire: () => {
      if (state.retired) return;
      state.retired = true;
      retire();
      state.touched();
    },
  };
  return state;
}

/** Wait (at most 10 s) for the commands still running, told their clients hung up. */
async function drain(state: WorkerState): Promise<void> {
  for (const c of state.contexts) c.signals.emit('hangup');
  const deadline = Date.now() + 10_000;
  while (state.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (typeof parsed === 'number') return parsed;
  const auto = bool(parsed, 'auto');
  const path = resolve(str(parsed, 'socket') || process.env.BERTH_WORKER_SOCKET || DEFAULT_WORKER_SOCKET);
  const idle = str(parsed, 'idle-timeout') || (auto ? autoIdleTimeout() : '0s');
  const idleNs = parseGoDuration(idle);
  if (idleNs === undefined || idleNs < 0) {
    printErr(usage('worker', `invalid argument "${idle}" for "--idle-timeout" flag: not a duration\nSee 'berth worker --help'.`).message);
    return 125;
  }
  const build = buildId();
  const engines = warmUp();
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  let sock: CliSocket | undefined;
  const state = newState(build, idleNs / 1e6, () => finish(), () => sock?.close());
  try {
    sock = await listenCli(path, (conn) => { state.touched(); serve(conn, state); }, { takeover: false });
  } catch (e) {
    releaseStartLock();
    // started by a front that raced another: the other one serves
    if (auto && e instanceof SocketInUse) return 0;
    printErr(`berth worker: ${(e as Error).message}`);
    return 1;
  }
  releaseStartLock();
  process.chdir('/');
  state.touched();
  process.stderr.write(`berth worker: listening on ${path} (pid ${process.pid}${auto ? `, idle timeout ${idle}` : ''})\n`);
  // the socket removed (its run root deleted) or taken by another process: finish and exit
  const unwatch = watchSocket(sock, () => state.retire());
  const stop = () => finish();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // an uncaught exception is logged and the worker stops taking commands (those running finish)
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', (e) => { process.stderr.write(`berth worker: uncaught exception, stopping: ${e.stack ?? String(e)}\n`); stop(); });
  await done;
  unwatch();
  sock.close();
  // commands still running (a `logs -f`, an attached run) are told their client hung up
  await drain(state);
  await engines.closeAll();
  return 0;
}

/**
 * `berth serve` is the warm process too: it takes <run root>/cli.sock (a worker there retires)
 * and runs the front's commands as a worker does, with its own engine, until `close()`. Nothing
 * when warm processes are turned off (worker-auto.ts).
 */
export async function serveCliSocket(): Promise<{ close(): Promise<void> } | undefined> {
  if (warmDisabled()) return undefined;
  const engine = getEngine();
  const path = join(engine.core.options.runRoot, 'cli.sock');
  const engines = warmUp(engine);
  let sock: CliSocket | undefined;
  const state = newState(buildId(), 0, () => undefined, () => sock?.close());
  try {
    sock = await listenCli(path, (conn) => serve(conn, state), { takeover: true });
  } catch (e) {
    process.stderr.write(`berth serve: berth commands not served: ${(e as Error).message}\n`);
    setEngineCache(undefined);
    return undefined;
  }
  const unwatch = watchSocket(sock, () => state.retire());
  process.stderr.write(`berth serve: berth commands served on ${path}\n`);
  return {
    async close() {
      unwatch();
      sock?.close();
      await drain(state);
      await engines.closeAll(engine);
      setEngineCache(undefined); // serve's own engine is closed by serve
    },
  };
}
