/**
 * `berth events [OPTIONS]` (also `system events`): past events with --since/--until, then new
 * ones as they happen, until --until passes or Ctrl-C. Docker's line format and time parsing.
 */
import { onSignal as onSig } from '../context.js';
import { usage } from '../../lib/index.js';
import { watchEvents } from '../../engine/index.js';
import type { EngineEvent } from '../../engine/store/index.js';
import { str } from '../flags.js';
import { io, runEngineCommand, type CommandSpec } from '../container/common.js';
import { parseOrStatus } from '../image/format.js';
import { TemplateError } from '../../lib/template/index.js';
import { printErr } from '../container/common.js';
import { filtersOf } from './common.js';

export const spec: CommandSpec = {
  name: 'events',
  usage: 'berth events [OPTIONS]',
  description: 'Get real time events from the server',
  args: [0, 0],
  flags: [
    { name: 'filter', short: 'f', type: 'strings', metavar: 'filter', help: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" },
    { name: 'since', type: 'string', help: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', help: 'Stream events until this timestamp' },
  ],
};

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; undefined when `v` is not a duration. */
export function parseGoDuration(v: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(v);
  if (!m) return v === '0' ? 0 : undefined;
  let ns = 0;
  for (const [, n, u] of v.matchAll(/((?:\d+(?:\.\d*)?|\.\d+))(ns|us|µs|μs|ms|s|m|h)/g)) ns += Number(n) * DURATION_UNITS[u!]!;
  return m[1] === '-' ? -ns : ns;
}

function offsetMinutes(ms: number): number {
  return -new Date(ms).getTimezoneOffset();
}

/** A local wall-clock time `YYYY-MM-DD[THH:MM:SS]` plus fraction digits → ns since the epoch. */
function localNs(date: string, frac: string): bigint | undefined {
  const asUtc = Date.parse(`${date.length === 10 ? `${date}T00:00:00` : date}Z`);
  if (Number.isNaN(asUtc)) return undefined;
  const ms = asUtc - offsetMinutes(asUtc) * 60_000;
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9) || '0');
}

/**
 * Docker's timetypes.GetTimestamp: a Go duration before now (whole seconds), an RFC 3339 time
 * or date (local time without a zone), or Unix seconds with an optional fraction. Nanoseconds.
 */
export function parseTimestamp(value: string, nowMs = Date.now()): bigint {
  const d = parseGoDuration(value);
  if (d !== undefined && value !== '0') return BigInt(Math.floor((nowMs - d / 1e6) / 1000)) * 1_000_000_000n;
  const fail = () => usage('events', `failed to parse value as time or duration: ${JSON.stringify(value)}`);
  const zoned = /[zZ+]/.test(value) || (value.match(/-/g) ?? []).length === 3;
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2})(?::(\d{2}))?(?::(\d{2}))?(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (m) {
    const [, day, hh, mm, ss, frac = '', zone] = m;
    const clock = hh === undefined ? '' : `T${hh}:${mm ?? '00'}:${ss ?? '00'}`;
    if (!zoned) {
      const r = localNs(`${day}${clock}`, frac);
      if (r === undefined) throw fail();
      return r;
    }
    const ms = Date.parse(`${day}${clock || 'T00:00:00'}${zone === 'z' ? 'Z' : zone ?? 'Z'}`);
    if (Number.isNaN(ms)) throw fail();
    return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0') || '0');
  }
  if (value.includes('-')) throw fail();
  const u = /^(\d+)(?:\.(\d{1,9}))?$/.exec(value);
  if (!u) throw fail();
  return BigInt(u[1]!) * 1_000_000_000n + BigInt((u[2] ?? '').padEnd(9, '0') || '0');
}

/** Go's RFC3339NanoFixed in local time: `2024-01-02T03:04:05.123456789Z` (or `+01:00`). */
export function formatEventTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const off = offsetMinutes(ms);
  const wall = new Date(ms + off * 60_000).toISOString().slice(0, 19);
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  const a = Math.abs(off);
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  return `${wall}.${frac}${zone}`;
}

/** Docker's default line: `TIME TYPE ACTION ID (k=v, …)` with the attributes sorted by key. */
export function eventLine(e: EngineEvent): string {
  const attrs = Object.keys(e.actor.attributes).sort().map((k) => `${k}=${e.actor.attributes[k]}`);
  return `${formatEventTime(e.timeNano)} ${e.type} ${e.action} ${e.actor.id}${attrs.length ? ` (${attrs.join(', ')})` : ''}`;
}

/** The legacy status/id/from fields Docker still sends for container and image events. */
function legacy(e: EngineEvent): { status?: string; id?: string; from?: string } {
  if (e.type === 'container') return { status: e.action, id: e.actor.id, ...(e.actor.attributes.image ? { from: e.actor.attributes.image } : {}) };
  if (e.type === 'image') return { status: e.action, id: e.actor.id };
  return {};
}

/** Docker's events.Message JSON (timeNano kept exact). */
export function eventJSON(e: EngineEvent): string {
  const head = JSON.stringify({ ...legacy(e), Type: e.type, Action: e.action, Actor: { ID: e.actor.id, Attributes: e.actor.attributes }, scope: e.scope, time: e.time });
  return `${head.slice(0, -1)},"timeNano":${e.timeNano}}`;
}

/** What `--format` templates see (Go field names). */
export function eventFields(e: EngineEvent): Record<string, unknown> {
  const l = legacy(e);
  return {
    Status: l.status ?? '', ID: l.id ?? '', From: l.from ?? '', Type: e.type, Action: e.action,
    Actor: { ID: e.actor.id, Attributes: e.actor.attributes }, Scope: e.scope, Time: e.time, TimeNano: String(e.timeNano),
  };
}

export function run(argv: string[], name = 'events'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const now = Date.now();
    const since = str(p, 'since') ? parseTimestamp(str(p, 'since'), now) : undefined;
    const until = str(p, 'until') ? parseTimestamp(str(p, 'until'), now) : undefined;
    const filters = filtersOf(p, 'events');
    const format = str(p, 'format').trim();
    const asJSON = format === 'json' || /^\{\{\s*json\s+\.\s*\}\}$/.test(format);
    // Docker: "Error parsing format: …" and exit 64, for a template that does not parse or run
    const tpl = format && !asJSON ? parseOrStatus(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'), '', 'Error parsing format: ') : undefined;
    if (typeof tpl === 'number') return tpl;
    const ac = new AbortController();
    let interrupted = false;
    const onSignal = () => { interrupted = true; ac.abort(); };
    const onError = () => ac.abort(); // stdout closed (e.g. `| head -1`)
    const offs = [onSig('SIGINT', onSignal), onSig('SIGTERM', onSignal), onSig('hangup', onSignal), onSig('SIGPIPE', onError)];
    io.out.on('error', onError);
    try {
      for await (const e of watchEvents(core, { since, until, filters, signal: ac.signal })) {
        if (ac.signal.aborted) break;
        let text: string;
        try {
          text = asJSON ? eventJSON(e) : tpl ? tpl.execute(eventFields(e)) : eventLine(e);
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          printErr(`Error parsing format: ${err.message}`);
          return 64;
        }
        io.out.write(text + '\n');
      }
    } finally {
      for (const off of offs) off();
      io.out.off('error', onError);
    }
    return interrupted ? 130 : 0;
  });
}
