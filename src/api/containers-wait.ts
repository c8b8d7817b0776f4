/**
 * `POST /containers/{id}/wait?condition=`: Docker's three conditions, registered before the
 * container starts (`docker run` waits, then starts). The exit code comes from the container's
 * `die` event recorded after the wait began — it outlives the record, so `run --rm` (condition
 * `removed`) gets the code of a container that exited and was removed between two looks.
 * A running container's exit is seen through its monitor at once (and settled here: teardown,
 * `--rm`), not by polling.
 */
import type { ServerResponse } from 'node:http';
import { reconcile, settle, WAIT_CONDITIONS, type EngineCore } from '../engine/index.js';
import { attach as monitorAttach } from '../sys/index.js';
import { ApiError, type ApiContext } from './http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The exit code of the first `die` of container `id` after event `afterId`, if there is one. */
function dieAfter(core: EngineCore, id: string, afterId: number): number | undefined {
  const ev = core.store.events.query({ afterId, filters: { type: ['container'], event: ['die'], container: [id] } }).find((e) => e.actor.id === id);
  return ev ? Number(ev.actor.attributes.exitCode ?? 0) : undefined;
}

/** Until the running container exits (seen through its monitor), then settled; returns at once when aborted. */
async function exitOfRun(core: EngineCore, id: string, signal: AbortSignal): Promise<void> {
  const c = core.store.containers.find(id);
  if (!c || (c.state.status !== 'running' && c.state.status !== 'paused')) return;
  let conn;
  try { conn = await monitorAttach(core.paths(id).socket, {}); } catch { await sleep(20); return; }
  if (signal.aborted) { conn.detach(); return; }
  const onAbort = () => conn.detach();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const e = await conn.exit;
    conn.detach();
    if (signal.aborted) return;
    await settle(core, id, e).catch(() => undefined);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The wait itself: the exit code, or throws when the condition cannot be met. */
export async function waitFor(core: EngineCore, id: string, condition: string, afterId: number, signal: AbortSignal): Promise<number> {
  const active = (s: string) => s === 'running' || s === 'paused' || s === 'restarting';
  const first = core.store.containers.find(id);
  let code = first?.state.exitCode ?? 0;
  if (condition === 'not-running' && first && !active(first.state.status)) return code;
  while (!signal.aborted) {
    const died = dieAfter(core, id, afterId);
    const now = core.store.containers.find(id);
    if (!now) return died ?? code; // removed (for next-exit: before its next exit)
    let cur;
    try {
      cur = reconcile(core, now);
    } catch (err) {
      // removed under us (an `--rm` container settled by another client): that is the end of it
      if (!core.store.containers.find(id)) return dieAfter(core, id, afterId) ?? code;
      throw err;
    }
    code = cur.state.exitCode;
    if (died !== undefined && condition === 'next-exit') return died;
    if (condition === 'not-running' && !active(cur.state.status)) return died ?? code;
    if (cur.state.status === 'running' || cur.state.status === 'paused') await exitOfRun(core, id, signal);
    // a change made here (a start, the settling of an exit by the attach or the start) wakes the wait
    // at once; one made by another process (the CLI) is seen at the next look
    else await core.changeOf(id, cur.state.status === 'created' ? 20 : 100, signal);
  }
  return code;
}

/** `/wait`: headers at once (the CLI waits for them before it starts the container), the body at the condition. */
export async function wait(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): Promise<void> {
  const c = reconcile(ctx.core, ctx.core.store.containers.get(ref));
  const condition = q.get('condition') || 'not-running';
  if (!WAIT_CONDITIONS.includes(condition)) throw new ApiError(400, `invalid condition: "${condition}"`);
  const afterId = ctx.core.store.events.lastId();
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  try {
    const code = await waitFor(ctx.core, c.id, condition, afterId, abort.signal);
    res.end(JSON.stringify({ StatusCode: code }) + '\n');
  } catch (e) {
    res.end(JSON.stringify({ StatusCode: 125, Error: { Message: (e as Error).message } }) + '\n');
  }
}
