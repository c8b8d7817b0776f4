/**
 * Terminal sizes. A container's pty belongs to its monitor: a resize is a frame on an attach
 * connection (one the server already holds for the container, else a short one). An exec's pty
 * master is held by its helper (which relays it to our pipes), so its size is set on the pty
 * itself: the exec process's stdin, reached through /proc, with the host's stty.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { reconcile } from '../engine/index.js';
import { attach as monitorAttach, type MonitorAttach } from '../sys/index.js';
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

/** The exec process under its helper (`helperPid`), once its stdin is its pty; undefined until then. */
function execProcess(helperPid: number): number | undefined {
  let kids: string;
  try { kids = readFileSync(`/proc/${helperPid}/task/${helperPid}/children`, 'utf8'); } catch { return undefined; }
  for (const k of kids.trim().split(/\s+/).filter(Boolean)) {
    try { if (readlinkSync(`/proc/${k}/fd/0`).startsWith('/dev/pts/')) return Number(k); } catch { /* not yet */ }
  }
  return undefined;
}

/** Set the size of an exec's pty (retried while its process sets the pty up, up to `waitMs`). */
export async function resizeExecPty(helperPid: number, size: () => [number, number] | undefined, waitMs = 3000): Promise<boolean> {
  if (!helperPid) return false;
  const end = Date.now() + waitMs;
  for (;;) {
    const pid = execProcess(helperPid);
    const [rows, cols] = size() ?? [0, 0];
    if (rows <= 0 || cols <= 0) return false;
    if (pid) {
      return new Promise((resolve) => {
        execFile('stty', ['-F', `/proc/${pid}/fd/0`, 'rows', String(rows), 'cols', String(cols)], { timeout: 5000 }, (err) => resolve(!err));
      });
    }
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}
