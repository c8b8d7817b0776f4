/**
 * The warm process's socket (`berth worker`, or `berth serve`, on <run root>/cli.sock): which
 * build of berth listens there, how the socket is claimed and handed over, and when it stops
 * being ours. The socket is made under a temporary name and renamed into place, so a front never
 * finds the path missing or half made; a process whose socket was removed or replaced by another
 * (`berth serve` taking over, a newer worker, a run root deleted) notices within seconds and stops.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, closeSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAGIC = 'berth-cli/2';

/**
 * The build of berth this process runs: the inode, size and modification time of its code (the
 * bundle dist/berth-main.cjs, whose identity the front sends in its hello). Read once at start:
 * an upgrade replaces the file under a running process.
 */
export function buildId(file = fileURLToPath(import.meta.url)): string {
  try {
    const st = statSync(file, { bigint: true });
    const ns = st.mtimeNs;
    return `${st.ino}:${st.size}:${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  } catch { return ''; }
}

/** Whether something answers on a unix socket. */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/**
 * Ask the warm process on `path` to leave it: a hello from no build it runs, which it answers
 * with `V` and retires (stops listening, finishes its commands, exits). Resolves once it answered
 * or hung up (at most 3 s).
 */
export function askToRetire(path: string): Promise<void> {
  return new Promise((resolve) => {
    const c: Socket = createConnection(path);
    const done = () => { clearTimeout(timer); c.destroy(); resolve(); };
    const timer = setTimeout(done, 3000);
    c.once('error', done);
    c.once('data', done);
    c.once('close', done);
    c.once('connect', () => {
      const body = Buffer.from([`${MAGIC} !retire`, '/', '22', '0', '0', '0', '0', '0', '0', ''].join('\0'));
      const head = Buffer.alloc(5);
      head[0] = 'H'.charCodeAt(0);
      head.writeUInt32BE(body.length, 1);
      c.write(Buffer.concat([head, body]));
    });
  });
}

export class SocketInUse extends Error {}

export interface CliSocket {
  server: Server;
  path: string;
  /** still the socket at `path` (not removed, not replaced) */
  ours(): boolean;
  /** stop accepting; remove the path if it is still ours */
  close(): void;
}

/**
 * Listen on `path` for the front. `takeover` (berth serve): a warm process already there is asked
 * to retire and the path is taken over; otherwise one already answering makes this fail with
 * SocketInUse. The socket is 0600 in a 0711 directory.
 */
export async function listenCli(path: string, onConn: (c: Socket) => void, o: { takeover: boolean }): Promise<CliSocket> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  const live = await answers(path);
  if (live && !o.takeover) throw new SocketInUse(`a worker already listens on ${path}`);
  const temp = `${path}.${process.pid}.new`;
  try { unlinkSync(temp); } catch { /* none */ }
  const server = createServer(onConn);
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(temp, () => resolve()); });
  } catch (e) {
    throw new Error(`listen on ${path}: ${(e as Error).message}`);
  } finally {
    process.umask(old);
  }
  let ino: bigint;
  try {
    chmodSync(temp, 0o600);
    ino = statSync(temp, { bigint: true }).ino;
    if (live) await askToRetire(path);
    renameSync(temp, path);
  } catch (e) {
    server.close();
    try { unlinkSync(temp); } catch { /* gone */ }
    throw new Error(`listen on ${path}: ${(e as Error).message}`);
  }
  const ours = () => {
    try { return statSync(path, { bigint: true }).ino === ino; } catch { return false; }
  };
  let closed = false;
  return {
    server, path, ours,
    close() {
      if (closed) return;
      closed = true;
      server.close();
      if (ours()) try { unlinkSync(path); } catch { /* gone */ }
    },
  };
}

/**
 * The start lock a front handed to the worker it started (native/front_auto.c: fd
 * $BERTH_WORKER_LOCK_FD): let go once listening, so that fronts waiting for it connect.
 */
export function releaseStartLock(): void {
  const fd = Number(process.env.BERTH_WORKER_LOCK_FD);
  delete process.env.BERTH_WORKER_LOCK_FD;
  if (Number.isInteger(fd) && fd > 2) try { closeSync(fd); } catch { /* not open */ }
}

/** Call `lost` once the socket is no longer ours (checked every `everyMs`, not keeping the process up). */
export function watchSocket(sock: CliSocket, lost: () => void, everyMs = 5000): () => void {
  const timer = setInterval(() => {
    if (sock.ours()) return;
    clearInterval(timer);
    lost();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
