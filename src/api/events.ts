/**
 * `GET /events`: moby's events.Message, one JSON object a line, flushed per event. With `since`
 * or `until` the stored events of that window first; then new ones (from this server or any other
 * process on the same store: the engine polls the store's event log) until `until` passes or the
 * client goes away.
 */
import type { ServerResponse } from 'node:http';
import { watchEvents } from '../engine/index.js';
import type { store } from '../engine/index.js';
import { ApiError, qFilters, type ApiContext } from './http.js';

/** moby's timestamp query value: Unix seconds with an optional fraction (up to 9 digits), in ns. */
export function parseTimestamp(key: string, v: string | null): bigint | undefined {
  if (v === null || v === '') return undefined;
  const m = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (!m) throw new ApiError(400, `invalid value for ${key}: ${JSON.stringify(v)}: not a Unix timestamp`);
  const s = BigInt(m[1]!);
  const ns = BigInt((m[2] ?? '').padEnd(9, '0'));
  return s * 1_000_000_000n + (s < 0n ? -ns : ns);
}

/** The legacy status/id/from fields moby still sends on container and image events. */
function legacy(e: store.EngineEvent): Record<string, string> {
  if (e.type === 'container') return { status: e.action, id: e.actor.id, ...(e.actor.attributes.image ? { from: e.actor.attributes.image } : {}) };
  if (e.type === 'image') return { status: e.action, id: e.actor.id };
  return {};
}

/** One event as moby's JSON line (timeNano exact, beyond a double's precision). */
export function eventLine(e: store.EngineEvent): string {
  const head = JSON.stringify({
    ...legacy(e), Type: e.type, Action: e.action, Actor: { ID: e.actor.id, Attributes: e.actor.attributes }, scope: e.scope, time: e.time,
  });
  return `${head.slice(0, -1)},"timeNano":${e.timeNano}}\n`;
}

export async function events(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const since = parseTimestamp('since', q.get('since'));
  const until = parseTimestamp('until', q.get('until'));
  const filters = qFilters(q);
  // errors (filter keys, since after until) as HTTP errors, before the headers go out
  if (since !== undefined && until !== undefined && since > until) {
    throw new ApiError(400, `\`since\` time (${q.get('since')}) cannot be after \`until\` time (${q.get('until')})`);
  }
  ctx.core.store.events.query({ filters, limit: 0, afterId: Number.MAX_SAFE_INTEGER });
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  try {
    for await (const e of watchEvents(ctx.core, { since, until, filters, signal: abort.signal, pollMs: 100 })) {
      if (abort.signal.aborted) break;
      res.write(eventLine(e));
    }
  } finally {
    res.end();
  }
}
