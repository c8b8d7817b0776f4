/**
 * What the metadata instructions do to the image config (ENV, LABEL, WORKDIR, USER, EXPOSE,
 * VOLUME, ENTRYPOINT, CMD, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER) and the history
 * text BuildKit writes for each (`created_by`), plus the small parsers they need: Go durations,
 * port specs, `--chown` against the image's /etc/passwd and /etc/group.
 */
import type { ImageConfig } from '../image/index.js';
import { parseSignal } from '../oci/index.js';

export type RuntimeConfig = NonNullable<ImageConfig['config']>;

/** Go's %q of a string slice: ["a" "b"]. */
export const goQ = (a: string[]) => `[${a.map((s) => JSON.stringify(s)).join(' ')}]`;

export function setEnv(cfg: RuntimeConfig, k: string, v: string): void {
  const env = [...(cfg.Env ?? [])];
  const i = env.findIndex((e) => e.split('=', 1)[0] === k);
  if (i >= 0) env[i] = `${k}=${v}`; else env.push(`${k}=${v}`);
  cfg.Env = env;
}

export function envMap(cfg: RuntimeConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of cfg.Env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1)); else m.set(e, '');
  }
  return m;
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(s: string): number {
  const orig = s;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) { neg = s.startsWith('-'); s = s.slice(1); }
  if (s === '0') return 0;
  if (!s) throw new Error(`time: invalid duration "${orig}"`);
  let total = 0;
  const re = /^(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/u;
  while (s) {
    const m = re.exec(s);
    if (!m || m[1] === '' || m[1] === '.') throw new Error(/^\d*\.?\d*$/.test(s) ? `time: missing unit in duration "${orig}"` : `time: invalid duration "${orig}"`);
    total += Number(m[1]) * UNITS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return Math.round(neg ? -total : total);
}

/** Go's Duration.String(). */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let v = Math.abs(ns);
  let out: string;
  if (v < 1e3) out = `${v}ns`;
  else if (v < 1e6) out = `${trim(v / 1e3)}µs`;
  else if (v < 1e9) out = `${trim(v / 1e6)}ms`;
  else {
    const h = Math.floor(v / 3600e9); v -= h * 3600e9;
    const m = Math.floor(v / 60e9); v -= m * 60e9;
    out = `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${trim(v / 1e9)}s`;
  }
  return neg ? `-${out}` : out;
}
const trim = (x: number) => String(Number(x.toFixed(9)));

/** EXPOSE words → port keys (`80/tcp`, ranges expanded). */
export function exposedPorts(words: string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const [spec, proto = 'tcp'] = w.split('/');
    if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw new Error(`invalid proto: ${proto}`);
    const portPart = spec!.includes(':') ? spec!.slice(spec!.lastIndexOf(':') + 1) : spec!;
    const m = /^(\d+)(?:-(\d+))?$/.exec(portPart);
    if (!m) throw new Error(`invalid containerPort: ${portPart}`);
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    if (b < a || b > 65535) throw new Error(`invalid range specified for container port: ${portPart}`);
    for (let p = a; p <= b; p++) out.push(`${p}/${proto.toLowerCase()}`);
  }
  return out;
}

export interface Health { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number }

const goRune = (n: number) => `'\\x${n.toString(16).padStart(2, '0')}'`;

/** BuildKit's history text of a HEALTHCHECK (Go's %q of the struct). */
export function healthHistory(h: Health): string {
  const d = (x?: number) => JSON.stringify(formatDuration(x ?? 0));
  return `HEALTHCHECK &{${goQ(h.Test ?? [])} ${d(h.Interval)} ${d(h.Timeout)} ${d(h.StartPeriod)} ${d(h.StartInterval)} ${goRune(h.Retries ?? 0)}}`;
}

function interval(name: string, v: string | undefined): number | undefined {
  if (!v) return undefined;
  const d = parseDuration(v);
  if (d === 0) return undefined;
  if (d < 1e6) throw new Error(`Interval "${name}" cannot be less than 1ms`);
  return d;
}

/** HEALTHCHECK arguments and flags → the config's Healthcheck. */
export function healthcheck(args: string[], json: boolean, flags: Record<string, unknown>): Health {
  const typ = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (typ === 'NONE') {
    if (rest.length) throw new Error('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (typ !== 'CMD') throw new Error(`Unknown type "${typ}" in HEALTHCHECK (try CMD)`);
  const cmd = json ? rest : rest.length ? [rest.join(' ')] : [];
  if (!cmd.length) throw new Error('Missing command after HEALTHCHECK CMD');
  const h: Health = { Test: [json ? 'CMD' : 'CMD-SHELL', ...cmd] };
  const set = (k: keyof Health, f: string) => { const v = interval(f, flags[f] as string | undefined); if (v !== undefined) (h[k] as number) = v; };
  set('Interval', 'interval'); set('Timeout', 'timeout'); set('StartPeriod', 'start-period'); set('StartInterval', 'start-interval');
  const r = flags.retries as string | undefined;
  if (r) {
    const n = Number(r);
    if (!Number.isInteger(n)) throw new Error(`strconv.ParseInt: parsing "${r}": invalid syntax`);
    if (n < 0) throw new Error(`--retries cannot be negative (${n})`);
    if (n) h.Retries = n;
  }
  return h;
}

export function checkStopSignal(s: string): void {
  try { parseSignal(s); } catch { throw new Error(`Invalid signal: ${s}`); }
}

function lookup(file: string | undefined, name: string): string[] | undefined {
  for (const line of (file ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return f;
  }
  return undefined;
}

/** `--chown=user[:group]` against the image's passwd and group files. */
export function resolveChown(spec: string, passwd: string | undefined, group: string | undefined): { uid: number; gid: number } {
  const [u, g] = spec.split(':', 2) as [string, string | undefined];
  let uid: number;
  let primary: number | undefined;
  if (/^\d+$/.test(u)) { uid = Number(u); primary = uid; }
  else {
    const e = lookup(passwd, u);
    if (!e) throw new Error(`unable to convert uid/gid chown string to host mapping: can't find uid for user ${u}: no such user: ${u}`);
    uid = Number(e[2]); primary = Number(e[3]);
  }
  if (g === undefined || g === '') return { uid, gid: primary ?? uid };
  if (/^\d+$/.test(g)) return { uid, gid: Number(g) };
  const e = lookup(group, g);
  if (!e) throw new Error(`unable to convert uid/gid chown string to host mapping: can't find gid for group ${g}: no such group: ${g}`);
  return { uid, gid: Number(e[2]) };
}

/** `--chmod`: octal, or symbolic (`u+x,g-w,o=r`, `a+X`) applied to each copied file's own mode. */
export function parseChmod(s: string): (mode: number, dir: boolean) => number {
  if (/^[0-7]{1,4}$/.test(s)) { const m = parseInt(s, 8); return () => m; }
  const clauses = s.split(',');
  const parsed = clauses.map((c) => {
    const m = /^([ugoa]*)([+=-])([rwxXst]*)$/.exec(c);
    if (!m) throw new Error(`invalid chmod parameter: '${s}'. it should be octal string and between 0 and 07777`);
    return { who: m[1] || 'a', op: m[2]!, perms: m[3]! };
  });
  return (mode, dir) => {
    let out = mode & 0o7777;
    for (const { who, op, perms } of parsed) {
      const mask = (who.includes('a') ? 0o777 : 0) | (who.includes('u') ? 0o700 : 0) | (who.includes('g') ? 0o070 : 0) | (who.includes('o') ? 0o007 : 0);
      let bits = 0;
      if (perms.includes('r')) bits |= 0o444;
      if (perms.includes('w')) bits |= 0o222;
      if (perms.includes('x') || (perms.includes('X') && (dir || (mode & 0o111) !== 0))) bits |= 0o111;
      bits &= mask;
      if (perms.includes('s')) bits |= (who.includes('u') || who.includes('a') ? 0o4000 : 0) | (who.includes('g') || who.includes('a') ? 0o2000 : 0);
      if (perms.includes('t')) bits |= 0o1000;
      if (op === '+') out |= bits;
      else if (op === '-') out &= ~bits;
      else out = (out & ~mask & ~(who.includes('u') || who.includes('a') ? 0o4000 : 0)) | bits;
    }
    return out & 0o7777;
  };
}
