/**
 * `GET /containers/{id}/stats?stream=&one-shot=`: moby's stats JSON from the engine's samples
 * (cgroup counters, /proc/stat, the container's network namespace). `stream=1` (the default): a
 * sample a second, each line flushed, until the container stops or the client goes; `stream=0`:
 * one sample whose precpu_stats is a previous one (so the CLI's CPU % means something), within the
 * CLI's 2 s; `one-shot=1`: one sample at once.
 */
import type { ServerResponse } from 'node:http';
import { containerStats, reconcile, sampleStats } from '../engine/index.js';
import { qBool, type ApiContext } from './http.js';

export async function stats(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): Promise<void> {
  const c = reconcile(ctx.core, ctx.core.store.containers.get(ref));
  const stream = qBool(q, 'stream', true);
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  if (!stream && qBool(q, 'one-shot')) {
    res.end(JSON.stringify(sampleStats(ctx.core, c)) + '\n');
    return;
  }
  for await (const s of containerStats(ctx.core, c.id, { stream, intervalMs: stream ? 1000 : 500, signal: abort.signal })) {
    if (abort.signal.aborted) break;
    res.write(JSON.stringify(s) + '\n');
  }
  res.end();
}
