/**
 * Terminal sizes. A container's pty belongs to its monitor: a resize is a frame on an attach
 * connection (one the server already holds for the container, else a short one). An exec's pty
 * master is held by its helper (which relays it to our pipes), so its size is set on the pty
 * itself: the exec process's stdin, reached through /proc (TIOCSWINSZ).
 */
import { readlinkSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { reconcile } from '../engine/index.js';
import { attach as monitorAttach, setWinsize, type MonitorAttach } from '../sys/index.js';
import { ApiError, qInt, type ApiContext } from './http.js';

/** Live attach connections by container id (any of them can carry a resize). */
export const liveAttaches = new Map<string, Set<MonitorAttach>>();

export function trackAttach(id: string, conn: MonitorAttach): void {
  let set = liveAttaches.get(id);
  if (!set) liveAttaches.set(id, (set = new Set()));
  set.add(conn);
  void conn.exit.then(() => untrackAttach(id, conn));
}

export function untrackAttach(id: string, conn: MonitorAttach): void {
  const set = liveAttaches.get(id);
  if (!set) return;
  set.delete(conn);
  if (!set.size) liveAttaches.delete(id);
}

/** `h` and `w` of a resize request (moby: both required, unsigned). */
export function sizeOf(q: URLSearchParams): [number, number] {
  const h = qInt(q, 'h') ?? 0;
  const w = qInt(q, 'w') ?? 0;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0 || h > 65535 || w > 65535) throw new ApiError(400, `invalid terminal size ${h}x${w}`);
  return [h, w];
}

/** `POST /containers/{id}/resize?h=&w=`: 200 with an empty body (dockerode accepts only 200). */
export async function resizeContainer(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): Promise<void> {
  const c = reconcile(ctx.core, ctx.core.store.containers.get(ref));
  const [h, w] = sizeOf(q);
  if (c.state.status !== 'running' && c.state.status !== 'paused') throw new ApiError(409, `Container ${c.id} is not running`);
  if ((c.config as { Tty?: boolean }).Tty && h > 0 && w > 0) {
    const held = liveAttaches.get(c.id);
    const conn = held?.values().next().value as MonitorAttach | undefined;
    if (conn) conn.resize(h, w);
    else {
      const a = await monitorAttach(ctx.core.paths(c.id).socket, {});
      a.resize(h, w);
      a.detach();
    }
    ctx.core.event('container', 'resize', c, { height: String(h), width: String(w) });
  }
  res.writeHead(200, { 'Content-Length': 0 });
  res.end();
}

/**
 * Set the size of an exec's pty: on its process's stdin (the pty slave), reached through /proc
 * (its helper holds the master and relays it to our pipes). `pid` is the exec'd process.
 */
export function resizeExecPty(pid: number, rows: number, cols: number): boolean {
  if (!pid || rows <= 0 || cols <= 0) return false;
  const stdin = `/proc/${pid}/fd/0`;
  try {
    if (!readlinkSync(stdin).startsWith('/dev/pts/')) return false;
    setWinsize(stdin, rows, cols);
    return true;
  } catch {
    return false; // it ended
  }
}
