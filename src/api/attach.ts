/**
 * Hijacked attach (`POST /containers/{id}/attach` with `Upgrade: tcp`): 101, then the container's
 * output on the raw connection (multiplexed without a tty) and the client's bytes as its stdin.
 * An attach to a created container waits for `start`, which starts it with the monitor attach
 * (Docker's `run`: attach, wait, start); stdin that arrives before is buffered.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { reconcile, type EngineCore } from '../engine/index.js';
import { attach as monitorAttach, type AttachOptions, type MonitorAttach } from '../sys/index.js';
import { checkExec, startHijacked } from './exec.js';
import { ApiError, COMMON_HEADERS, frame, messageOf, qBool, splitVersion, statusOf } from './http.js';

export interface PendingAttach {
  options: AttachOptions;
  connect(conn: MonitorAttach): void;
  /** The start failed: end the client's connection. */
  fail(): void;
}

/** Attaches waiting for their container's start, by container id (the engine attaches at start). */
export const pendingAttach = new Map<string, PendingAttach>();

function writeError(socket: Duplex, err: unknown): void {
  const body = JSON.stringify({ message: messageOf(err) }) + '\n';
  const status = statusOf(err);
  const head = [`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 409 ? 'Conflict' : status === 400 ? 'Bad Request' : 'Internal Server Error'}`,
    'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close',
    ...Object.entries(COMMON_HEADERS).map(([k, v]) => `${k}: ${v}`)];
  socket.end(head.join('\r\n') + '\r\n\r\n' + body);
}

const upgraded = (tty: boolean) => ['HTTP/1.1 101 UPGRADED', `Content-Type: application/vnd.docker.${tty ? 'raw' : 'multiplexed'}-stream`,
  'Connection: Upgrade', 'Upgrade: tcp', ...Object.entries(COMMON_HEADERS).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';

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

/** The server's `upgrade` event. */
export function handleUpgrade(core: EngineCore, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => undefined);
  try {
    const url = new URL(req.url ?? '/', 'http://berth');
    const { path } = splitVersion(url.pathname);
    const ex = /^\/exec\/([^/]+)\/start$/.exec(path);
    if (req.method === 'POST' && ex) return hijackExec(core, req, socket, head, decodeURIComponent(ex[1]!));
    const m = /^\/containers\/([^/]+)\/attach$/.exec(path);
    if (req.method !== 'POST' || !m) throw new ApiError(404, 'page not found');
    const c = reconcile(core, core.store.containers.get(decodeURIComponent(m[1]!)));
    const q = url.searchParams;
    const options: AttachOptions = { stdin: qBool(q, 'stdin'), stdout: qBool(q, 'stdout'), stderr: qBool(q, 'stderr'), logs: qBool(q, 'logs') };
    const cfg = c.config as { Tty?: boolean; StdinOnce?: boolean };
    const tty = !!cfg.Tty;
    const st = c.state.status;
    if (st === 'paused' || st === 'restarting') throw new ApiError(409, `You cannot attach to a ${st} container, unpause it first`);
    const live = st === 'running';
    if (!live && !qBool(q, 'stream', true)) throw new ApiError(409, `container ${c.id} is not running`);
    socket.write(['HTTP/1.1 101 UPGRADED', `Content-Type: application/vnd.docker.${tty ? 'raw' : 'multiplexed'}-stream`,
      'Connection: Upgrade', 'Upgrade: tcp', ...Object.entries(COMMON_HEADERS).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n');
    // the request's own body (exec start JSON, empty for attach) is not stdin
    const bodyLen = Number(req.headers['content-length'] ?? 0) || 0;
    const input: Buffer[] = head.length > bodyLen ? [head.subarray(bodyLen)] : [];
    let inputEnded = false;
    let conn: MonitorAttach | undefined;
    socket.on('data', (d: Buffer) => { if (!options.stdin) return; if (conn) conn.write(d); else input.push(d); });
    socket.on('end', () => {
      inputEnded = true;
      if (conn && options.stdin && cfg.StdinOnce) conn.closeStdin();
    });
    socket.on('close', () => { if (conn) conn.detach(); pendingAttach.delete(c.id); });
    const connect = (a: MonitorAttach) => {
      conn = a;
      a.stdout.on('data', (d: Buffer) => socket.write(tty ? d : frame(1, d)));
      a.stderr.on('data', (d: Buffer) => socket.write(tty ? d : frame(2, d)));
      if (options.stdin) {
        for (const d of input.splice(0)) a.write(d);
        if (inputEnded && cfg.StdinOnce) a.closeStdin();
      }
      let open = 2;
      const done = () => { if (--open === 0) socket.end(); };
      a.stdout.on('end', done);
      a.stderr.on('end', done);
    };
    if (live) {
      monitorAttach(core.paths(c.id).socket, options).then(connect, () => socket.end());
    } else {
      pendingAttach.set(c.id, { options, connect, fail: () => socket.end() });
    }
  } catch (err) {
    writeError(socket, err);
  }
}
