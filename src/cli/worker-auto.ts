/**
 * The settings of the warm process the front starts by itself (native/front_auto.c): whether
 * there is one at all, and how long it stays without commands. Environment first, then the
 * config file (/etc/berth/config.json or $BERTH_CONFIG):
 *   BERTH_NO_WORKER=1            / "worker": false               no warm process (a Node process per command)
 *   BERTH_WORKER_IDLE_TIMEOUT=5m / "worker-idle-timeout": "5m"   exit after this long idle (0: never; default 10m)
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG_FILE } from '../engine/index.js';

export const DEFAULT_AUTO_IDLE = '10m';

function config(): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(process.env.BERTH_CONFIG || DEFAULT_CONFIG_FILE, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {};
  } catch { return {}; } // missing, or malformed: the commands report that themselves
}

/** Whether warm processes are turned off (BERTH_NO_WORKER=1, or "worker": false in the config). */
export function warmDisabled(): boolean {
  const no = process.env.BERTH_NO_WORKER;
  if (no && no !== '0') return true;
  return config().worker === false;
}

/** The idle timeout of a started worker, as a Go duration. */
export function autoIdleTimeout(): string {
  const env = process.env.BERTH_WORKER_IDLE_TIMEOUT;
  if (env) return env;
  const v = config()['worker-idle-timeout'];
  return typeof v === 'string' && v ? v : typeof v === 'number' ? `${v}s` : DEFAULT_AUTO_IDLE;
}
