/**
 * `system boot`: what dockerd does for its containers when it starts, without a daemon — run once
 * after the machine booted (contrib/berth-boot.service). Every record is reconciled with the
 * kernel first (after a reboot the run root is empty: a record that says `running` has no
 * process and no monitor any more), then the containers whose restart policy says so are started:
 * `always` ones (even one its user stopped, as Docker's "restarted when the daemon restarts"),
 * `unless-stopped` ones its user did not stop, `on-failure` ones that failed (not stopped by their
 * user) within their retry count; ones `restarting` are started at once.
 */
import { BerthError } from '../../lib/index.js';
import type { Container } from '../store/index.js';
import { reconcile } from './cleanup.js';
import type { EngineCore } from './core.js';
import { MANUAL_CANCEL, policyOf } from './restart-policy.js';
import { startContainer } from './start.js';

export interface BootResult {
  started: Container[];
  failed: Array<{ container: Container; error: Error }>;
}

/** Should `c` (reconciled, not running) be started at boot? */
export function startsAtBoot(c: Container): boolean {
  const s = c.state.status;
  if (s === 'restarting') return true;
  if (s !== 'exited' || !c.state.startedAt) return false; // never started: its user never asked for it
  const p = policyOf(c);
  if (p.Name === 'always') return true;
  if (p.Name === 'unless-stopped') return c.state.manualStop === 0;
  if (p.Name === 'on-failure') {
    return c.state.manualStop !== MANUAL_CANCEL && c.state.exitCode !== 0
      && (p.MaximumRetryCount === 0 || c.state.restartCount < p.MaximumRetryCount);
  }
  return false;
}

export async function bootContainers(core: EngineCore): Promise<BootResult> {
  const out: BootResult = { started: [], failed: [] };
  for (const first of core.store.containers.list({ all: true }).reverse()) { // oldest first, as created
    let c: Container;
    try {
      c = reconcile(core, first, undefined, { restarter: true });
    } catch (e) {
      if (e instanceof BerthError && e.kind === 'notfound') continue;
      throw e;
    }
    if (!startsAtBoot(c)) continue;
    try {
      const s = await startContainer(core, c.id, { policyRestart: c.state.status === 'restarting' });
      if (!s.launched) continue;
      if (c.state.status === 'restarting') core.event('container', 'restart', s.container);
      out.started.push(s.container);
    } catch (e) {
      if (e instanceof BerthError && e.kind === 'notfound') continue; // removed meanwhile
      out.failed.push({ container: c, error: e as Error });
    }
  }
  return out;
}
