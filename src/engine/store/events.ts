/** The event log: append with nanosecond times, query by time / id / Docker's event filters, capped. */
import { invalid } from '../../lib/index.js';
import type { StoreContext } from './context.js';
import { parseJson } from './context.js';
import { dbError } from './db.js';
import { checkFilterKeys, matchLabels } from './filters.js';
import { nowNs } from './time.js';
import type { EngineEvent, EventQuery, EventType, Filters, Labels, NewEvent } from './types.js';

const TYPES: readonly EventType[] = ['container', 'image', 'volume', 'network', 'daemon'];
export const EVENT_FILTER_KEYS = ['type', 'event', 'container', 'image', 'volume', 'network', 'label', 'scope'] as const;
/** Events kept by default (older ones are pruned as new ones arrive). */
export const DEFAULT_EVENT_CAP = 10_000;

interface EventRow { id: bigint; time_ns: bigint; type: EventType; action: string; actor_id: string; attributes: string }

function toEvent(r: EventRow): EngineEvent {
  return {
    id: Number(r.id), type: r.type, action: r.action, scope: 'local',
    actor: { id: r.actor_id, attributes: parseJson<Labels>(r.attributes, {}) },
    time: Number(r.time_ns / 1_000_000_000n), timeNano: r.time_ns,
  };
}

/** Exact or prefix match (Docker's FuzzyMatch); true when the key is not filtered. */
function fuzzy(values: string[] | undefined, ...sources: (string | undefined)[]): boolean {
  if (!values?.length) return true;
  return values.some((v) => sources.some((s) => s !== undefined && s !== '' && (s === v || s.startsWith(v))));
}

function exact(values: string[] | undefined, ...sources: (string | undefined)[]): boolean {
  if (!values?.length) return true;
  return values.some((v) => sources.some((s) => s !== undefined && s === v));
}

function stripLatest(s: string | undefined): string | undefined {
  return s?.endsWith(':latest') ? s.slice(0, -7) : s;
}

export function matchEvent(ev: EngineEvent, f: Filters): boolean {
  const a = ev.actor.attributes;
  const byType = (t: EventType, key: string) => !f[key]?.length || (ev.type === t && fuzzy(f[key], ev.actor.id, a.name));
  const image = ev.type === 'image' ? [ev.actor.id, a.name] : [a.image];
  return exact(f.type, ev.type)
    && exact(f.event, ev.action, ev.action.split(':')[0])
    && exact(f.scope, ev.scope)
    && byType('container', 'container') && byType('volume', 'volume') && byType('network', 'network')
    && (!f.image?.length || f.image.some((v) => image.some((s) => s !== undefined && (s === v || stripLatest(s) === stripLatest(v)))))
    && matchLabels(a, f.label);
}

export class EventLog {
  private appended = 0;

  constructor(private readonly c: StoreContext, readonly cap = DEFAULT_EVENT_CAP) {}

  append(ev: NewEvent): EngineEvent {
    const op = 'append event';
    if (!TYPES.includes(ev.type)) throw invalid(op, `${op}: unknown event type ${ev.type}`);
    const timeNano = ev.timeNano ?? nowNs();
    try {
      return this.c.tx(() => {
        const r = this.c.db.prepare('INSERT INTO events (time_ns, type, action, actor_id, attributes) VALUES (?, ?, ?, ?, ?)')
          .run(timeNano, ev.type, ev.action, ev.actorId, JSON.stringify(ev.attributes ?? {}));
        const id = Number(r.lastInsertRowid);
        // Prune now and then (every 64 appends in this process, and whenever ids cross a multiple of 256).
        if (++this.appended % 64 === 0 || id % 256 === 0) this.pruneTo(this.cap);
        return toEvent({ id: BigInt(id), time_ns: timeNano, type: ev.type, action: ev.action, actor_id: ev.actorId, attributes: JSON.stringify(ev.attributes ?? {}) });
      });
    } catch (err) {
      throw dbError(err, op, `${ev.type} ${ev.action} ${ev.actorId}`);
    }
  }

  /** Oldest first. Filters: type, event, container, image, volume, network, label, scope. */
  query(q: EventQuery = {}): EngineEvent[] {
    const filters = q.filters ?? {};
    checkFilterKeys('query events', filters, EVENT_FILTER_KEYS);
    const rows = this.c.db.prepare(`SELECT * FROM events WHERE id > ? AND time_ns >= ? AND time_ns <= ? ORDER BY id`)
      .safeIntegers(true)
      .all(BigInt(q.afterId ?? 0), q.since ?? 0n, q.until ?? 9_223_372_036_854_775_807n) as EventRow[];
    const out: EngineEvent[] = [];
    for (const r of rows) {
      const ev = toEvent(r);
      if (!matchEvent(ev, filters)) continue;
      out.push(ev);
      if (q.limit !== undefined && out.length >= q.limit) break;
    }
    return out;
  }

  /** The id of the newest event (0 when none): follow with query({ afterId }). */
  lastId(): number {
    return Number(this.c.db.prepare('SELECT COALESCE(MAX(id), 0) FROM events').pluck().get());
  }

  count(): number {
    return this.c.db.prepare('SELECT COUNT(*) FROM events').pluck().get() as number;
  }

  /** Keep only the newest `keep` events; returns how many were deleted. */
  pruneTo(keep: number): number {
    return this.c.tx(() => Number(this.c.db.prepare('DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?').run(keep).changes));
  }
}
