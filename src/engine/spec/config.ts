/**
 * The container config Docker derives from the image config and the run options (moby
 * daemon/images merge() plus daemon/container.go getEntrypointAndArgs and
 * container.CreateDaemonEnvironment): command, environment, working directory, user, labels,
 * stop signal, hostname.
 */
import { hostname as osHostname } from 'node:os';
import { posix } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { DEFAULT_PATH_ENV, parseSignal, signalName, type ImageConfig } from '../../oci/index.js';
import type { EffectiveConfig, RunOptions, SpecContext } from './types.js';

const OP = 'create container';
const bad = (message: string) => new BerthError({ kind: 'invalid', op: OP, message });

const envKey = (e: string) => { const i = e.indexOf('='); return i < 0 ? e : e.slice(0, i); };

/** moby merge(): the user's env first, then each image variable the user did not set. */
export function mergeEnv(imageEnv: readonly string[] = [], userEnv: readonly string[] = []): string[] {
  if (userEnv.length === 0) return [...imageEnv];
  const keys = new Set(userEnv.map(envKey));
  return [...userEnv, ...imageEnv.filter((e) => !keys.has(envKey(e)))];
}

/** moby ReplaceOrAppendEnvValues: `K=V` replaces or appends, `K` alone removes. */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | null)[] = [...defaults];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(envKey(e as string), i));
  for (const v of overrides) {
    const eq = v.indexOf('=');
    const k = eq < 0 ? v : v.slice(0, eq);
    const i = index.get(k);
    if (eq < 0) { if (i !== undefined) out[i] = null; continue; }
    if (i !== undefined) out[i] = v; else out.push(v);
  }
  return out.filter((e): e is string => e !== null && e !== '');
}

/** The spec's environment: PATH, HOSTNAME, TERM=xterm with a tty, then the merged config env. */
export function daemonEnv(configEnv: readonly string[], hostname: string, tty: boolean): string[] {
  const base = [DEFAULT_PATH_ENV, `HOSTNAME=${hostname}`];
  if (tty) base.push('TERM=xterm');
  return replaceOrAppendEnv(base, configEnv);
}

/** `--entrypoint` in the API's form: undefined = nil (not given); the CLI sends `['']` for `''`. */
function userEntrypoint(e: RunOptions['entrypoint']): string[] | undefined {
  if (e === undefined) return undefined;
  return typeof e === 'string' ? [e] : [...e];
}

const isHostNs = (mode: string | undefined) => mode === 'host';
const isContainerNs = (mode: string | undefined) => !!mode && mode.startsWith('container:');

/** The merged container config; throws Docker's errors for a missing command or a bad workdir. */
export function effectiveConfig(image: ImageConfig, opts: RunOptions, ctx: Pick<SpecContext, 'id' | 'hostHostname'>): EffectiveConfig {
  const img = image.config ?? {};
  let entrypoint: string[] | null = userEntrypoint(opts.entrypoint) ?? null;
  let cmd: string[] | null = opts.cmd?.length ? [...opts.cmd] : null;
  // moby merge(): only an absent or empty entrypoint takes the image's Cmd (and, when absent, its
  // Entrypoint); `--entrypoint ''` arrives as [''] and so drops the image's Cmd too.
  if (!entrypoint || entrypoint.length === 0) {
    if (!cmd) cmd = img.Cmd?.length ? [...img.Cmd] : null;
    if (!entrypoint) entrypoint = img.Entrypoint?.length ? [...img.Entrypoint] : null;
  }
  if (entrypoint && (entrypoint.length === 0 || (entrypoint.length === 1 && entrypoint[0] === ''))) entrypoint = null;
  const args = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (args.length === 0) throw bad('no command specified');

  let workingDir = opts.workdir || img.WorkingDir || '';
  if (workingDir) {
    if (!workingDir.startsWith('/')) throw bad(`the working directory '${workingDir}' is invalid, it needs to be an absolute path`);
    workingDir = posix.normalize(workingDir);
    if (workingDir.length > 1 && workingDir.endsWith('/')) workingDir = workingDir.slice(0, -1);
  }

  if (opts.hostname && isHostNs(opts.uts)) throw bad('conflicting options: hostname and the UTS mode');
  if (opts.hostname && isContainerNs(opts.network)) throw bad('conflicting options: hostname and the network mode');
  if (opts.hostname !== undefined && opts.hostname !== '') checkHostname(opts.hostname);
  let hostname = opts.hostname || '';
  if (!hostname) hostname = isHostNs(opts.network) || isHostNs(opts.uts) ? (ctx.hostHostname ?? osHostname()) : ctx.id.slice(0, 12);

  const labels: Record<string, string> = { ...(img.Labels ?? {}), ...(opts.labels ?? {}) };

  const stopRaw = opts.stopSignal || img.StopSignal || 'SIGTERM';
  let stopSignal: string;
  try { stopSignal = signalName(parseSignal(stopRaw)); } catch { throw bad(`Invalid signal: ${stopRaw}`); }

  const out: EffectiveConfig = {
    args, entrypoint, cmd,
    env: mergeEnv(img.Env ?? [], opts.env ?? []),
    workingDir,
    user: opts.user || img.User || '',
    hostname,
    domainname: opts.domainname ?? '',
    labels,
    stopSignal,
    tty: !!opts.tty,
    openStdin: !!opts.openStdin,
    volumes: Object.keys(img.Volumes ?? {}),
  };
  if (opts.stopTimeout !== undefined) out.stopTimeout = opts.stopTimeout;
  return out;
}

const HOSTNAME_RE = /^(([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;

/** The CLI's hostname check (HOST_NAME_MAX is 64). */
export function checkHostname(name: string): void {
  if (name.length > 64 || !HOSTNAME_RE.test(name)) {
    throw new BerthError({ kind: 'usage', op: OP, message: `invalid hostname format: ${name}` });
  }
}
