/**
 * Healthchecks (Docker's HEALTHCHECK, `--health-*`, podman's `--health-on-failure`). The policy is
 * decided here; the container's monitor runs the checks on its own timer (docs/PLAN.md
 * "Healthchecks") and keeps Docker's State.Health in `health.json` beside the container's data.
 * Status changes are appended by the monitor to `health.events`; the engine takes that file over
 * (rename, read, delete) whenever it looks at a container and records `health_status: …` events.
 */
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { parseSignal, type ImageRuntimeConfig } from '../../oci/index.js';
import type { HealthOptions } from '../../runtime/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from './core.js';

/** Docker's Config.Healthcheck (durations in nanoseconds, 0 = inherit / default). */
export type HealthConfig = NonNullable<ImageRuntimeConfig['Healthcheck']>;

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy' | 'none';
export const HEALTH_ACTIONS = ['none', 'kill', 'restart', 'stop'] as const;
export type HealthAction = (typeof HEALTH_ACTIONS)[number];

export interface HealthState {
  Status: Exclude<HealthStatus, 'none'>;
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

const MS = 1e6;
const DEFAULTS = { interval: 30_000, timeout: 30_000, startPeriod: 0, startInterval: 5_000, retries: 3 };

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds (`1m30s`, `500ms`, `-2s`, `0`). */
export function parseGoDuration(text: string): number {
  const bad = () => new Error(`time: invalid duration ${JSON.stringify(text)}`);
  let s = text;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') { sign = s[0] === '-' ? -1 : 1; s = s.slice(1); }
  if (s === '0') return 0;
  if (!s) throw bad();
  let total = 0;
  const re = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s) {
    const m = re.exec(s);
    if (!m) throw /^(\d+\.?\d*|\.\d+)$/.test(s) ? new Error(`time: missing unit in duration ${JSON.stringify(text)}`) : bad();
    total += Number(m[1]) * UNITS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return Math.round(sign * total);
}

/** moby's merge(): the user's healthcheck takes the image's for whatever it leaves unset. */
export function mergeHealthcheck(user: HealthConfig | undefined, image: HealthConfig | undefined): HealthConfig | undefined {
  if (!user) return image ? { ...image } : undefined;
  if (!image) return { ...user };
  const out = { ...user };
  if (!out.Test?.length) out.Test = image.Test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) if (!out[k]) out[k] = image[k];
  return out;
}

/** The daemon's checks (moby validateHealthCheck). */
export function validateHealthcheck(h: HealthConfig | undefined, op: string): void {
  if (!h) return;
  const bad = (message: string) => new BerthError({ kind: 'invalid', op, message });
  for (const [k, v] of [['Interval', h.Interval], ['Timeout', h.Timeout], ['StartPeriod', h.StartPeriod], ['StartInterval', h.StartInterval]] as const) {
    if (v && v < MS) throw bad(`${k} in Healthcheck cannot be less than 1ms`);
  }
  if ((h.Retries ?? 0) < 0) throw bad('Retries in Healthcheck cannot be negative');
}

/** The check's argv: `CMD a b`, `CMD-SHELL text` (the container's shell), none for `NONE`/empty. */
export function healthArgs(test: string[] | undefined, shell: string[] | undefined): string[] | undefined {
  if (!test?.length) return undefined;
  const [kind, ...rest] = test;
  if (kind === 'CMD') return rest.length ? rest : undefined;
  if (kind === 'CMD-SHELL') return [...(shell?.length ? shell : ['/bin/sh', '-c']), rest.join(' ')];
  return undefined; // NONE, or unknown forms (Docker: "unknown healthcheck type")
}

function files(core: EngineCore, id: string): { state: string; events: string; plan: string } {
  const p = core.paths(id);
  return { state: join(p.dataDir, 'health.json'), events: join(p.dataDir, 'health.events'), plan: join(p.runDir, 'health.plan') };
}

/** What the monitor is given at start (undefined: the container has no healthcheck). */
export function healthOptionsOf(core: EngineCore, c: Container, shell?: string[]): HealthOptions | undefined {
  const cfg = c.config as { Healthcheck?: HealthConfig; HealthcheckOnFailureAction?: string; StopSignal?: string; StopTimeout?: number };
  const h = cfg.Healthcheck;
  const args = healthArgs(h?.Test, shell);
  if (!h || !args) return undefined;
  const f = files(core, c.id);
  rmSync(f.state, { force: true });
  const ms = (ns: number | undefined, dflt: number) => (ns ? Math.max(1, Math.round(ns / MS)) : dflt);
  const action = (cfg.HealthcheckOnFailureAction ?? 'none') as HealthAction;
  const exit = core.exitCommand(c.id);
  let stopSignal = 15;
  try { stopSignal = parseSignal(cfg.StopSignal || 'SIGTERM'); } catch { /* the default */ }
  return {
    args, planFile: f.plan, stateFile: f.state, eventsFile: f.events,
    intervalMs: ms(h.Interval, DEFAULTS.interval), timeoutMs: ms(h.Timeout, DEFAULTS.timeout),
    startPeriodMs: ms(h.StartPeriod, DEFAULTS.startPeriod), startIntervalMs: ms(h.StartInterval, DEFAULTS.startInterval),
    retries: h.Retries || DEFAULTS.retries, onFailure: HEALTH_ACTIONS.includes(action) ? action : 'none',
    stopSignal, stopTimeoutMs: (cfg.StopTimeout ?? 10) * 1000,
    restartCommand: action === 'restart' && exit ? [...exit.slice(0, -3), 'restart', c.id] : undefined,
  };
}

/** Docker's State.Health as the monitor last wrote it (undefined: no healthcheck, or none ran yet). */
export function readHealth(core: EngineCore, c: Container): HealthState | undefined {
  if (!healthArgs((c.config as { Healthcheck?: HealthConfig }).Healthcheck?.Test, ['sh'])) return undefined;
  try { return JSON.parse(readFileSync(files(core, c.id).state, 'utf8')) as HealthState; } catch { return undefined; }
}

export function healthStatus(core: EngineCore, c: Container): HealthStatus {
  if (!healthArgs((c.config as { Healthcheck?: HealthConfig }).Healthcheck?.Test, ['sh'])) return 'none';
  return readHealth(core, c)?.Status ?? 'starting';
}

/** `(healthy)`, `(unhealthy)`, `(health: starting)` after `Up …` in ps. */
export function healthSuffix(core: EngineCore, c: Container): string {
  if (c.state.status !== 'running') return '';
  const s = healthStatus(core, c);
  return s === 'none' ? '' : s === 'starting' ? ' (health: starting)' : ` (${s})`;
}

/** Record the monitor's status changes as `health_status: …` events (at most once each). */
export function ingestHealthEvents(core: EngineCore, c: Container): void {
  // only a monitor given a healthcheck writes events: no file to look for otherwise
  if (!healthArgs((c.config as { Healthcheck?: HealthConfig }).Healthcheck?.Test, ['sh'])) return;
  const f = files(core, c.id).events;
  const taken = `${f}.${process.pid}`;
  try { renameSync(f, taken); } catch { return; }
  let text = '';
  try { text = readFileSync(taken, 'utf8'); } catch { /* gone */ }
  rmSync(taken, { force: true });
  for (const line of text.split('\n')) {
    if (!line) continue;
    // the monitor's time of the change (19 digits: read as a bigint, not through a double)
    const m = /^\{"status":"(starting|healthy|unhealthy)","timeNano":(\d+)\}$/.exec(line);
    if (!m) continue; // a torn line
    core.store.events.append({
      type: 'container', action: `health_status: ${m[1]}`, actorId: c.id, timeNano: BigInt(m[2]!),
      attributes: { ...c.labels, image: c.image, name: c.name },
    });
  }
}

let lastSweep = 0;

/** Ingest the health events of every running container (`events` does it as it polls, at most twice a second). */
export function ingestAllHealthEvents(core: EngineCore): void {
  if (Date.now() - lastSweep < 500) return;
  lastSweep = Date.now();
  for (const c of core.store.containers.list({ all: false })) ingestHealthEvents(core, c);
}

/** `--filter health=…` values (Docker's check). */
export function checkHealthFilter(values: string[], op: string): void {
  for (const v of values) {
    if (!['starting', 'healthy', 'unhealthy', 'none'].includes(v)) {
      throw new BerthError({ kind: 'invalid', op, message: `Unrecognised filter value for health: ${v}` });
    }
  }
}
