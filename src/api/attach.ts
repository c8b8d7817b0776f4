/**
 * Attach, over three transports: hijacked (`POST /containers/{id}/attach` with `Upgrade: tcp`:
 * 101, then the output on the raw connection, multiplexed without a tty, and the client's bytes
 * as stdin), plain HTTP (no Upgrade: 200 and the same stream until the container ends, as
 * dockerode's default attach) and websocket (`GET /containers/{id}/attach/ws`: binary frames,
 * raw output). Each attach is its own connection to the container's monitor, so any number of
 * clients see the output. An attach to a created container waits for `start`, which starts it
 * with the monitor attach (Docker's `run`: attach, wait, start); stdin that arrives before is
 * buffered. Hijacked exec start (`POST /exec/{id}/start`) comes through here too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { readLogs, reconcile, type EngineCore } from '../engine/index.js';
import type { Container } from '../engine/store/index.js';
import { attach as monitorAttach, type AttachOptions, type MonitorAttach } from '../sys/index.js';
import { trackAttach, untrackAttach } from './containers-tty.js';
import { acceptWebSocket } from './containers-ws.js';
import { checkExec, startHijacked } from './exec.js';
import { DetachScanner } from '../lib/index.js';
import { ApiError, COMMON_HEADERS, detachKeysOf, frame, messageOf, qBool, splitVersion, statusOf, type ApiContext } from './http.js';

export interface PendingAttach {
  options: AttachOptions;
  connect(conn: MonitorAttach): void;
  /** The start failed: end the client's connection. */
  fail(): void;
}

/** Attaches waiting for their container's start, by container id (the first is made by the start itself). */
export const pendingAttach = new Map<string, PendingAttach[]>();

function removePending(id: string, p: PendingAttach): void {
  const list = pendingAttach.get(id);
  if (!list) return;
  const i = list.indexOf(p);
  if (i >= 0) list.splice(i, 1);
  if (!list.length) pendingAttach.delete(id);
}

/** Where an attach's output goes, whatever the transport. */
export interface AttachSink {
  /** stream 1 stdout, 2 stderr (already framed or not by the sink) */
  out(stream: 1 | 2, data: Buffer): void;
  end(): void;
}

/** The client's side of an attach session. */
export interface AttachSession {
  input(d: Buffer): void;
  inputEnd(): void;
  /** The client went away: leave the container running. */
  close(): void;
}

/** The checks moby makes before any transport answers. */
export function checkAttach(c: Container, _q: URLSearchParams): void {
  const st = c.state.status;
  if (st === 'paused') throw new ApiError(409, `container ${c.id} is paused, unpause the container before attach`);
  if (st === 'restarting') throw new ApiError(409, `container ${c.id} is restarting, wait until the container is running`);
}

export type SessionOptions = AttachOptions & { stream: boolean; detachKeys?: Buffer };

export function attachOptions(q: URLSearchParams, dflt = false): SessionOptions {
  return {
    stdin: qBool(q, 'stdin', dflt), stdout: qBool(q, 'stdout', dflt), stderr: qBool(q, 'stderr', dflt), logs: qBool(q, 'logs'), stream: qBool(q, 'stream', true),
    detachKeys: detachKeysOf(q.get('detachKeys')),
  };
}


/** `stream=0`: the logged output (with `logs=1`), then the end — no live output, no stdin. */
async function replayOnly(core: EngineCore, c: Container, o: SessionOptions, sink: AttachSink): Promise<void> {
  try {
    if (o.logs && (o.stdout || o.stderr)) {
      for await (const e of readLogs(core, c, { stdout: !!o.stdout, stderr: !!o.stderr })) sink.out(e.stream === 'stderr' ? 2 : 1, Buffer.from(e.log));
    }
  } finally {
    sink.end();
  }
}

/** Connect a client to the container: now when it runs, else at its start. */
export function openSession(core: EngineCore, c: Container, so: SessionOptions, sink: AttachSink): AttachSession {
  const { stream, detachKeys, ...options } = so;
  if (!stream) {
    void replayOnly(core, c, so, sink).catch(() => undefined);
    return { input: () => undefined, inputEnd: () => undefined, close: () => undefined };
  }
  const cfg = c.config as { StdinOnce?: boolean; Tty?: boolean };
  // with a tty, the detach keys in stdin end this attach and leave the container running (moby's copyEscapable)
  const scan = cfg.Tty && options.stdin && detachKeys ? new DetachScanner(detachKeys) : undefined;
  const input: Buffer[] = [];
  let inputEnded = false;
  let closed = false;
  let conn: MonitorAttach | undefined;
  let pending: PendingAttach | undefined;
  const connect = (a: MonitorAttach) => {
    if (closed) { a.detach(); return; }
    conn = a;
    trackAttach(c.id, a);
    a.stdout.on('data', (d: Buffer) => sink.out(1, d));
    a.stderr.on('data', (d: Buffer) => sink.out(2, d));
    if (options.stdin) {
      for (const d of input.splice(0)) a.write(d);
      if (inputEnded && cfg.StdinOnce && !cfg.Tty) a.closeStdin();
    }
    let open = 2;
    const done = () => { if (--open === 0) { untrackAttach(c.id, a); sink.end(); } };
    a.stdout.on('end', done);
    a.stderr.on('end', done);
  };
  if (c.state.status === 'running') {
    monitorAttach(core.paths(c.id).socket, options).then(connect, () => sink.end());
  } else {
    pending = { options, connect, fail: () => sink.end() };
    const list = pendingAttach.get(c.id) ?? [];
    list.push(pending);
    pendingAttach.set(c.id, list);
  }
  return {
    input(d) {
      if (!options.stdin || closed) return;
      let data = d;
      if (scan) {
        const r = scan.feed(d);
        data = r.pass;
        if (r.detached) {
          if (data.length && conn) conn.write(data);
          this.close();
          sink.end();
          core.event('container', 'detach', c);
          return;
        }
      }
      if (!data.length) return;
      if (conn) conn.write(data); else input.push(data);
    },
    inputEnd() {
      // moby: the client's EOF closes the container's stdin only for StdinOnce without a tty;
      // otherwise it ends this attach (a CLI that detached with ctrl-p ctrl-q), the container runs on
      if (!options.stdin || inputEnded) return;
      inputEnded = true;
      if (cfg.StdinOnce && !cfg.Tty) { if (conn) conn.closeStdin(); return; }
      this.close();
      sink.end();
    },
    close() {
      closed = true;
      if (pending) removePending(c.id, pending);
      if (conn) { untrackAttach(c.id, conn); conn.detach(); }
    },
  };
}

/** Start a container with its pending attaches: the first through the start itself, the others right after. */
export async function connectPending(core: EngineCore, id: string, start: (attach?: AttachOptions) => Promise<MonitorAttach | undefined>, firstRun: boolean): Promise<void> {
  const list = pendingAttach.get(id);
  pendingAttach.delete(id);
  if (!list?.length) { await start(); return; }
  const [first, ...rest] = list;
  let conn: MonitorAttach | undefined;
  try {
    conn = await start(first!.options);
  } catch (err) {
    for (const p of list) p.fail(); // the clients' attaches end, or `docker run` would wait on them forever
    throw err;
  }
  if (conn) first!.connect(conn); else first!.fail();
  for (const p of rest) {
    // what was written before this connection exists is replayed from the log (a first run's log is all this run's)
    monitorAttach(core.paths(id).socket, { ...p.options, logs: p.options.logs || firstRun }).then((a) => p.connect(a), () => p.fail());
  }
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 409: 'Conflict', 500: 'Internal Server Error' };

function writeError(socket: Duplex, err: unknown): void {
  const body = JSON.stringify({ message: messageOf(err) }) + '\n';
  const status = statusOf(err);
  const head = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`,
    'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close',
    ...Object.entries(COMMON_HEADERS).map(([k, v]) => `${k}: ${v}`)];
  socket.end(head.join('\r\n') + '\r\n\r\n' + body);
}

const streamType = (tty: boolean) => `application/vnd.docker.${tty ? 'raw' : 'multiplexed'}-stream`;

const upgraded = (tty: boolean) => ['HTTP/1.1 101 UPGRADED', `Content-Type: ${streamType(tty)}`,
  'Connection: Upgrade', 'Upgrade: tcp', ...Object.entries(COMMON_HEADERS).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';

/** A sink writing Docker's stream (framed without a tty) on a raw connection. */
function socketSink(socket: Duplex, tty: boolean): AttachSink {
  return {
    out: (s, d) => { if (!socket.destroyed) socket.write(tty ? d : frame(s, d)); },
    end: () => socket.end(),
  };
}

/** `POST /exec/{id}/start` hijacked: read the JSON body (Content-Length bytes), 101, run. */
function hijackExec(core: EngineCore, req: IncomingMessage, socket: Duplex, head: Buffer, id: string): void {
  checkExec(id);
  const len = Number(req.headers['content-length'] ?? 0) || 0;
  let buf = head;
  const more = (d: Buffer) => { buf = Buffer.concat([buf, d]); if (buf.length >= len) go(); };
  const go = (): void => {
    socket.off('data', more);
    let body: { Tty?: boolean; Detach?: boolean } = {};
    try { if (len) body = JSON.parse(buf.subarray(0, len).toString('utf8')); } catch { return writeError(socket, new ApiError(400, 'invalid JSON body')); }
    socket.write(upgraded(!!body.Tty));
    try { startHijacked(core, id, body, socket, buf.subarray(len)); } catch (err) { socket.end(); void err; }
  };
  if (buf.length >= len) go(); else socket.on('data', more);
}

/** The hijacked container attach. */
function hijackAttach(core: EngineCore, req: IncomingMessage, socket: Duplex, head: Buffer, c: Container, q: URLSearchParams): void {
  checkAttach(c, q);
  const tty = !!(c.config as { Tty?: boolean }).Tty;
  socket.write(upgraded(tty));
  // the request's own body (empty for attach) is not stdin
  const bodyLen = Number(req.headers['content-length'] ?? 0) || 0;
  const s = openSession(core, c, attachOptions(q), socketSink(socket, tty));
  if (head.length > bodyLen) s.input(head.subarray(bodyLen));
  socket.on('data', (d: Buffer) => s.input(d));
  socket.on('end', () => s.inputEnd());
  socket.on('close', () => s.close());
}

/** The server's `upgrade` event. */
export function handleUpgrade(core: EngineCore, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => undefined);
  try {
    const url = new URL(req.url ?? '/', 'http://berth');
    const { path } = splitVersion(url.pathname);
    const ex = /^\/exec\/([^/]+)\/start$/.exec(path);
    if (req.method === 'POST' && ex) return hijackExec(core, req, socket, head, decodeURIComponent(ex[1]!));
    const ws = /^\/containers\/([^/]+)\/attach\/ws$/.exec(path);
    if (req.method === 'GET' && ws) {
      const c = reconcile(core, core.store.containers.get(decodeURIComponent(ws[1]!)));
      checkAttach(c, url.searchParams);
      // the websocket attaches every stream unless told otherwise (moby, API >= 1.42)
      const options = attachOptions(url.searchParams, true);
      return acceptWebSocket(req, socket, head, (peer) => {
        const s = openSession(core, c, options, { out: (_s, d) => peer.send(d), end: () => peer.close() });
        peer.onMessage = (d) => s.input(d);
        peer.onClose = () => { s.inputEnd(); s.close(); };
      });
    }
    const m = /^\/containers\/([^/]+)\/attach$/.exec(path);
    if (req.method !== 'POST' || !m) throw new ApiError(404, 'page not found');
    const c = reconcile(core, core.store.containers.get(decodeURIComponent(m[1]!)));
    hijackAttach(core, req, socket, head, c, url.searchParams);
  } catch (err) {
    writeError(socket, err);
  }
}

/**
 * `POST /containers/{id}/attach` without Upgrade (dockerode's default, `docker.run()`): 200 at
 * once and the raw stream on the connection until the container ends, then the connection closes
 * (no length, no chunks: moby hijacks it too). No stdin: the request body never ends.
 */
export function plainAttach(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): void {
  const c = reconcile(ctx.core, ctx.core.store.containers.get(ref));
  checkAttach(c, q);
  const tty = !!(c.config as { Tty?: boolean }).Tty;
  const socket = ctx.req.socket;
  socket.write(['HTTP/1.1 200 OK', `Content-Type: ${streamType(tty)}`, ...Object.entries(COMMON_HEADERS).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n');
  const s = openSession(ctx.core, c, { ...attachOptions(q), stdin: false }, socketSink(socket, tty));
  socket.on('close', () => s.close());
  res.on('close', () => s.close());
}
