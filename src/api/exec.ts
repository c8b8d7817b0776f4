/**
 * Exec instances: `POST /containers/{id}/exec` records one, `POST /exec/{id}/start` runs it
 * (hijacked: output on the connection, multiplexed unless the start body says Tty; or detached),
 * `GET /exec/{id}/json` tells its exit code (set before the connection closes: the CLI reads it
 * at once). The process runs through the engine's exec with pipes (no pty yet).
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { execInContainer, reconcile, type EngineCore } from '../engine/index.js';
import { resizeExecPty, sizeOf } from './containers-tty.js';
import { DetachScanner } from '../lib/index.js';
import { ApiError, detachKeysOf, frame, readJSON, sendEmpty, sendJSON, type ApiContext } from './http.js';

interface ExecInstance {
  id: string;
  containerId: string;
  cmd: string[];
  tty: boolean;
  env?: string[];
  user?: string;
  workdir?: string;
  privileged: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  /** the pty size asked for (ConsoleSize, then resizes), applied once the process has its pty */
  size?: [number, number];
  /** `DetachKeys` of the create (Docker's default when empty) */
  detachKeys: string;
}

const consoleSize = (v: unknown): [number, number] | undefined =>
  (Array.isArray(v) && Number(v[0]) > 0 && Number(v[1]) > 0 ? [Number(v[0]), Number(v[1])] : undefined);

const execs = new Map<string, ExecInstance>();

function find(id: string): ExecInstance {
  const e = execs.get(id) ?? [...execs.values()].find((x) => x.id.startsWith(id));
  if (!e) throw new ApiError(404, `No such exec instance: ${id}`);
  return e;
}

export async function create(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  const c = reconcile(ctx.core, ctx.core.store.containers.get(ref));
  const b = await readJSON<Record<string, any>>(ctx.req);
  if (c.state.status === 'paused') throw new ApiError(409, `Container ${c.id} is paused, unpause the container before exec`);
  if (c.state.status !== 'running') throw new ApiError(409, `container ${c.id} is not running`);
  if (!Array.isArray(b.Cmd) || b.Cmd.length === 0) throw new ApiError(400, 'No exec command specified');
  const e: ExecInstance = {
    id: randomBytes(32).toString('hex'), containerId: c.id, cmd: b.Cmd.map(String), tty: !!b.Tty,
    env: Array.isArray(b.Env) ? b.Env.map(String) : undefined, user: b.User || undefined, workdir: b.WorkingDir || undefined,
    privileged: !!b.Privileged, attachStdin: !!b.AttachStdin, attachStdout: b.AttachStdout !== false, attachStderr: b.AttachStderr !== false,
    running: false, started: false, exitCode: null, pid: 0, size: consoleSize(b.ConsoleSize),
    detachKeys: typeof b.DetachKeys === 'string' ? b.DetachKeys : '',
  };
  detachKeysOf(e.detachKeys); // a malformed spec: 400 now
  execs.set(e.id, e);
  sendJSON(res, 201, { Id: e.id });
}

export function inspect(_ctx: ApiContext, res: ServerResponse, id: string): void {
  const e = find(id);
  sendJSON(res, 200, {
    ID: e.id, Running: e.running, ExitCode: e.exitCode, ProcessConfig: { tty: e.tty, entrypoint: e.cmd[0], arguments: e.cmd.slice(1), privileged: e.privileged, user: e.user ?? '' },
    OpenStdin: e.attachStdin, OpenStderr: e.attachStderr, OpenStdout: e.attachStdout, CanRemove: false, ContainerID: e.containerId,
    DetachKeys: e.detachKeys, Pid: e.pid,
  });
}

export function resize(ctx: ApiContext, res: ServerResponse, id: string): void {
  const e = find(id);
  const [h, w] = sizeOf(new URL(ctx.req.url ?? '/', 'http://berth').searchParams);
  if (h > 0 && w > 0) {
    e.size = [h, w];
    if (e.tty && e.running && e.pid) void applySize(e);
  }
  res.writeHead(200, { 'Content-Length': 0 });
  res.end();
}

/** The exec's pty to the size last asked (retried while its process is still setting its pty up). */
async function applySize(e: ExecInstance): Promise<void> {
  for (let i = 0; i < 100 && e.running; i++) {
    const [h, w] = e.size ?? [0, 0];
    if (resizeExecPty(e.pid, h, w)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Run an exec; `out` receives its output (framed unless tty), `input` feeds its stdin. */
function runExec(core: EngineCore, e: ExecInstance, tty: boolean, io?: { out: (b: Buffer) => void; onInput: (fn: (d: Buffer | null) => void) => void }): Promise<number> {
  if (e.started) throw new ApiError(409, `Error: Exec command ${e.id} has already run`);
  e.started = true;
  e.running = true;
  let closed: Promise<unknown> = Promise.resolve();
  const startSize = e.size;
  const run = execInContainer(core, e.containerId, {
    cmd: e.cmd, tty: e.tty, consoleSize: e.tty ? e.size : undefined, env: e.env, user: e.user, workdir: e.workdir, privileged: e.privileged,
    stdio: [io && e.attachStdin ? 'pipe' : 'ignore', io ? 'pipe' : 'ignore', io ? 'pipe' : 'ignore'],
    // the exec'd process (inspect's Pid, as Docker's: on the host); its pty has the size asked at start
    onPid: (pid) => { e.pid = pid; if (e.tty && e.size && e.size !== startSize) void applySize(e); },
    onSpawn: (child) => {
      // the exit can be known before the pipes are drained: the output goes first
      closed = new Promise((r) => { child.once('close', r); child.once('error', r); });
      if (!io) return;
      child.stdout?.on('data', (d: Buffer) => io.out(tty ? d : frame(1, d)));
      child.stderr?.on('data', (d: Buffer) => io.out(tty ? d : frame(2, d)));
      if (child.stdin) io.onInput((d) => { if (d) child.stdin!.write(d); else child.stdin!.end(); });
    },
  });
  return run.then(async (code) => { await closed; e.exitCode = code; e.running = false; return code; }, (err) => { e.exitCode = 126; e.running = false; throw err; });
}

/** `POST /exec/{id}/start` with `Detach: true` (no hijack): 200 at once, the process runs on. */
export async function startDetached(ctx: ApiContext, res: ServerResponse, id: string): Promise<void> {
  const e = find(id);
  const b = await readJSON<{ Detach?: boolean; Tty?: boolean }>(ctx.req);
  if (!b.Detach) return startPlain(ctx.core, res, e, !!b.Tty);
  runExec(ctx.core, e, !!b.Tty).catch(() => undefined);
  sendEmpty(res, 200);
}

/**
 * Neither detached nor hijacked (dockerode's default `exec.start({})`): as moby, the output is
 * the response body (multiplexed, raw for a tty) and the response ends with the process; no stdin.
 */
async function startPlain(core: EngineCore, res: ServerResponse, e: ExecInstance, tty: boolean): Promise<void> {
  res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
  res.flushHeaders();
  try {
    await runExec(core, e, tty, {
      out: (b) => { res.write(b); },
      onInput: (fn) => fn(null),
    });
  } catch (err) {
    const msg = Buffer.from(`${(err as Error).message}\n`);
    res.write(tty ? msg : frame(3, msg));
  }
  res.end();
}

/** The hijacked start: the caller has read the body and written the 101. */
export function startHijacked(core: EngineCore, id: string, body: { Tty?: boolean; ConsoleSize?: unknown }, socket: Duplex, rest: Buffer): void {
  const e = find(id);
  e.size = consoleSize(body.ConsoleSize) ?? e.size;
  const tty = !!body.Tty;
  let feed: ((d: Buffer | null) => void) | undefined;
  const pending: Array<Buffer | null> = [];
  // with a tty, the detach keys end this connection; the process runs on (moby)
  const scan = e.tty && e.attachStdin ? new DetachScanner(detachKeysOf(e.detachKeys)) : undefined;
  let detached = false;
  const take = (d: Buffer) => {
    if (detached) return;
    let data = d;
    if (scan) {
      const r = scan.feed(d);
      data = r.pass;
      if (r.detached) detached = true;
    }
    if (data.length) { if (feed) feed(data); else pending.push(data); }
    if (detached) socket.end();
  };
  if (rest.length) take(rest);
  socket.on('data', take);
  socket.on('end', () => { if (feed) feed(null); else pending.push(null); });
  runExec(core, e, tty, {
    out: (b) => { if (!detached) socket.write(b); },
    onInput: (fn) => { feed = fn; for (const d of pending.splice(0)) fn(d); },
  }).then(() => socket.end(), (err: Error) => { socket.write(tty ? Buffer.from(err.message + '\n') : frame(3, Buffer.from(err.message + '\n'))); socket.end(); });
}

export function checkExec(id: string): { tty: boolean } {
  return { tty: find(id).tty };
}
