/**
 * Parsers for the values of Docker's run/create flags, with the Docker CLI's rules and wording
 * (docker/cli opts/*, docker/go-units). Errors are BerthError kind 'usage'. Mount-type values
 * (`--mount`, `-v`, `--tmpfs`) live in values-mount.ts and are re-exported here.
 */
import { readFileSync } from 'node:fs';
import { BerthError } from '../../lib/index.js';
import type { DeviceMapping, ThrottleDevice, Ulimit, WeightDevice } from './types.js';

export { parseMount, parseVolume, parseTmpfs, validateMountSpec, checkBindSources } from './values-mount.js';
export { parseSize } from './size.js';
import { parseSize } from './size.js';

const OP = 'parse flag';
export const usageError = (message: string) => new BerthError({ kind: 'usage', op: OP, message });

/** Wrap a value error the way the CLI reports a bad flag value. */
export function flagError(flag: string, value: string, err: unknown): BerthError {
  return usageError(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(flag)} flag: ${(err as Error).message}`);
}

/** `--memory-swap`: -1 = unlimited, else a size. */
export function parseMemorySwap(text: string): number {
  return text === '-1' ? -1 : parseSize(text);
}

/** `--cpus 1.5` -> nano-CPUs (big.Rat semantics: decimals, exponents, `a/b`; exact or refused). */
export function parseCpus(text: string): number {
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(text);
  let num: bigint;
  let den: bigint;
  if (frac) {
    num = BigInt(frac[1]);
    den = BigInt(frac[2]);
    if (den === 0n) throw usageError(`failed to parse ${text} as a rational number`);
  } else {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
    if (!m || (m[2] === '' && !m[3])) throw usageError(`failed to parse ${text} as a rational number`);
    const digits = (m[2] || '0') + (m[3] ?? '');
    const exp = -(m[3]?.length ?? 0) + Number(m[4] ?? 0);
    num = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
    den = 1n;
    if (exp >= 0) num *= 10n ** BigInt(exp); else den = 10n ** BigInt(-exp);
  }
  const nano = num * 1_000_000_000n;
  if (nano % den !== 0n) throw usageError('value is too precise');
  return Number(nano / den);
}

const ULIMIT_NAMES = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

function parseInt64(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw usageError(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  return Number(s);
}

/** `--ulimit nofile=1024[:2048]` (go-units ParseUlimit; `as` is not accepted, as in Docker). */
export function parseUlimit(text: string): Ulimit {
  const eq = text.indexOf('=');
  if (eq < 0) throw usageError(`invalid ulimit argument: ${text}`);
  const name = text.slice(0, eq);
  if (!ULIMIT_NAMES.includes(name)) throw usageError(`invalid ulimit type: ${name}`);
  const vals = text.slice(eq + 1).split(':');
  if (vals.length > 2) throw usageError(`too many limit value arguments - ${text.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const hard = vals.length === 2 ? parseInt64(vals[1]) : undefined;
  const soft = parseInt64(vals[0]);
  const h = hard ?? soft;
  if (h !== -1) {
    if (soft === -1) throw usageError(`ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${h}`);
    if (soft > h) throw usageError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${h}`);
  }
  return { name, soft, hard: h };
}

/** r, w, m, each at most once, not empty. */
export function validDeviceMode(mode: string): boolean {
  if (mode === '') return false;
  const seen = new Set<string>();
  for (const c of mode) {
    if (!'rwm'.includes(c) || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

/** `--device /dev/x[:/dev/y][:rwm]` (the CLI's validateDevice then parseLinuxDevice). */
export function parseDevice(text: string): DeviceMapping {
  if ((text.match(/:/g) ?? []).length > 2) throw usageError(`bad format for path: ${text}`);
  const arr = text.split(':');
  if (arr[0] === '') throw usageError(`bad format for path: ${text}`);
  let src = arr[0];
  let dst = '';
  let perms = 'rwm';
  if (arr.length === 3) {
    if (!validDeviceMode(arr[2])) throw usageError(`bad mode specified: ${arr[2]}`);
    perms = arr[2];
  }
  if (arr.length >= 2) {
    if (arr.length === 2 && validDeviceMode(arr[1])) perms = arr[1]; else dst = arr[1];
  }
  const containerPath = dst || src;
  if (!containerPath.startsWith('/')) throw usageError(`${containerPath} is not an absolute path`);
  src = src.length > 1 ? src.replace(/\/+$/, '') : src;
  return { pathOnHost: src, pathInContainer: dst || src, cgroupPermissions: perms };
}

function deviceRate(text: string, what: string, parse: (v: string) => number): { path: string; value: number } {
  const i = text.indexOf(':');
  if (i <= 0) throw usageError(`bad format: ${text}`);
  const path = text.slice(0, i);
  if (!path.startsWith('/dev/')) throw usageError(`bad format for device path: ${text}`);
  let value: number;
  try { value = parse(text.slice(i + 1)); } catch { throw usageError(what); }
  return { path, value };
}

/** `--device-read-bps /dev/sda:1mb` (also write-bps). */
export function parseThrottleBps(text: string): ThrottleDevice {
  const r = deviceRate(text, `invalid rate for device: ${text}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`, parseSize);
  return { path: r.path, rate: r.value };
}

/** `--device-read-iops /dev/sda:1000` (also write-iops). */
export function parseThrottleIops(text: string): ThrottleDevice {
  const r = deviceRate(text, `invalid rate for device: ${text}. The correct format is <device-path>:<number>. Number must be a positive integer`, (v) => {
    if (!/^\d+$/.test(v)) throw new Error('bad');
    return Number(v);
  });
  return { path: r.path, rate: r.value };
}

/** `--blkio-weight-device /dev/sda:200` (0, or 10..1000). */
export function parseWeightDevice(text: string): WeightDevice {
  const r = deviceRate(text, `invalid weight for device: ${text}`, (v) => {
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new Error('bad');
    return Number(v);
  });
  if (r.value > 0 && (r.value < 10 || r.value > 1000)) throw usageError(`invalid weight for device: ${text}`);
  return { path: r.path, weight: r.value };
}

/** `--sysctl k=v` (no value = empty string, as the CLI's MapOpts). */
export function parseSysctl(text: string): [string, string] {
  const i = text.indexOf('=');
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
}

/** `-e K=V` or `-e K` (taken from `lookup`, the CLI's environment, when set there). */
export function parseEnv(text: string, lookup: (k: string) => string | undefined = () => undefined): string {
  const i = text.indexOf('=');
  const k = i < 0 ? text : text.slice(0, i);
  if (k === '') throw usageError(`invalid environment variable: ${text}`);
  if (i >= 0) return text;
  const v = lookup(k);
  return v === undefined ? k : `${k}=${v}`;
}

/** `-l k=v` / `-l k` (value ''). */
export function parseLabel(text: string): [string, string] {
  const i = text.indexOf('=');
  const key = (i < 0 ? text : text.slice(0, i)).trim();
  if (key === '') throw usageError(`invalid label '${text}': empty name`);
  if (/[ \t]/.test(key)) throw usageError(`label '${key}' contains whitespaces`);
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
}

/** The CLI's parseKeyValueFile (env and label files). */
function parseKeyValueFile(content: string, name: string, lookup?: (k: string) => string | undefined): string[] {
  const out: string[] = [];
  const text = content.startsWith('\uFEFF') ? content.slice(1) : content;
  text.split(/\r?\n|\r/).forEach((raw, n) => {
    if (raw.includes('\uFFFD')) throw usageError(`env file ${name} contains invalid utf8 bytes at line ${n + 1}`);
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const variable = (eq < 0 ? line : line.slice(0, eq)).replace(/^[ \t]+/, '');
    if (/[ \t]/.test(variable)) throw usageError(`poorly formatted environment: variable '${variable}' contains whitespaces`);
    if (variable === '') throw usageError(`poorly formatted environment: no variable name on line '${line}'`);
    if (eq >= 0) { out.push(`${variable}=${line.slice(eq + 1)}`); return; }
    const v = lookup?.(line);
    out.push(v === undefined ? variable : `${variable.trim()}=${v}`);
  });
  return out;
}

/** `--env-file` contents -> `K=V` / `K` entries (a bare `K` is looked up like `-e K`). */
export function parseEnvFile(content: string, name = 'env file', lookup: (k: string) => string | undefined = () => undefined): string[] {
  return parseKeyValueFile(content, name, lookup);
}

/** `--label-file` contents -> labels. */
export function parseLabelFile(content: string, name = 'label file'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of parseKeyValueFile(content, name)) {
    const [k, v] = parseLabel(l);
    out[k] = v;
  }
  return out;
}

/** `--security-opt`: `seccomp=FILE` is read and compacted into `seccomp=<json>` as the CLI does;
 *  everything else is passed through (the spec builder validates it). */
export function parseSecurityOpt(text: string, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): string {
  const m = /^seccomp[=:](.*)$/s.exec(text);
  if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return text;
  let content: string;
  try { content = readFile(m[1]); } catch (e) {
    throw usageError(`opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
  }
  try { return `seccomp=${JSON.stringify(JSON.parse(content))}`; } catch (e) {
    throw usageError(`compacting json for seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
  }
}
