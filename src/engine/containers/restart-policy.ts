/**
 * Restart policies: the docker CLI's parse, the daemon's check and Docker's decision after an exit
 * (moby's restartmanager, learnt, not copied). No I/O here: the CLI's flag parser uses it too.
 */
import { BerthError, invalid } from '../../lib/index.js';
import type { Container } from '../store/index.js';

export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure' | '';

export interface RestartPolicy { Name: RestartPolicyName; MaximumRetryCount: number }

/** manual_stop values. */
export const MANUAL_SIGNAL = 1;
export const MANUAL_CANCEL = 2;

const DEFAULT_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 60_000;
const RESET_AFTER_MS = 10_000;

const POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'];

/** The docker CLI's parse (`name[:count]`); its errors are the CLI's. */
export function parseRestartPolicy(text: string): RestartPolicy {
  const i = text.indexOf(':');
  const name = i < 0 ? text : text.slice(0, i);
  const count = i < 0 ? '' : text.slice(i + 1);
  if (i >= 0 && name === '') throw usageErr('invalid restart policy format: no policy provided before colon');
  let n = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count) || !Number.isSafeInteger(Number(count))) throw usageErr('invalid restart policy format: maximum retry count must be an integer');
    n = Number(count);
  }
  return { Name: name as RestartPolicyName, MaximumRetryCount: n };
}

function usageErr(message: string): BerthError {
  return new BerthError({ kind: 'usage', op: 'restart policy', message });
}

/** The daemon's check (Error response from daemon: invalid restart policy: …). */
export function validateRestartPolicy(p: RestartPolicy): void {
  const op = 'restart policy';
  if (p.Name === 'always' || p.Name === 'unless-stopped' || p.Name === 'no') {
    if (p.MaximumRetryCount !== 0) {
      throw invalid(op, `invalid restart policy: maximum retry count can only be used with 'on-failure'${p.MaximumRetryCount < 0 ? ' and cannot be negative' : ''}`);
    }
    return;
  }
  if (p.Name === 'on-failure') {
    if (p.MaximumRetryCount < 0) throw invalid(op, 'invalid restart policy: maximum retry count cannot be negative');
    return;
  }
  if (p.Name === '') return;
  throw invalid(op, `invalid restart policy: unknown policy '${p.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
}

/** The container's policy (HostConfig.RestartPolicy; older records stored `on-failure:N` in Name). */
export function policyOf(c: Container): RestartPolicy {
  const rp = (c.hostConfig.RestartPolicy ?? {}) as Partial<RestartPolicy>;
  const name = String(rp.Name ?? 'no');
  if (name.includes(':')) {
    try { return parseRestartPolicy(name); } catch { return { Name: 'no', MaximumRetryCount: 0 }; }
  }
  return { Name: (POLICIES.includes(name) ? name : 'no') as RestartPolicyName, MaximumRetryCount: Number(rp.MaximumRetryCount ?? 0) || 0 };
}

export interface RestartDecision { restart: boolean; timeoutMs: number }

const ms = (t: string | null): number => (t ? Date.parse(t) : NaN);

/**
 * Docker's ShouldRestart for an exit with `exitCode` at `finishedAt` (ISO): the back-off moves on
 * whatever the answer (reset after a run of 10 s), then the policy decides.
 */
export function decideRestart(c: Container, exitCode: number, finishedAt?: string): RestartDecision {
  const p = policyOf(c);
  const st = c.state;
  const ran = (finishedAt ? Date.parse(finishedAt) : Date.now()) - ms(st.startedAt);
  let t = st.restartTimeoutMs;
  if (p.Name === 'no' || p.Name === '') return { restart: false, timeoutMs: t };
  if (ran >= RESET_AFTER_MS) t = 0;
  t = t === 0 ? DEFAULT_TIMEOUT_MS : Math.min(t * 2, MAX_TIMEOUT_MS);
  if (st.manualStop === MANUAL_CANCEL) return { restart: false, timeoutMs: t };
  let restart = false;
  if (p.Name === 'always') restart = true;
  else if (p.Name === 'unless-stopped') restart = st.manualStop === 0;
  else if (p.Name === 'on-failure') {
    const max = p.MaximumRetryCount;
    restart = (max === 0 || st.restartCount < max) && exitCode !== 0;
  }
  return { restart, timeoutMs: t };
}

