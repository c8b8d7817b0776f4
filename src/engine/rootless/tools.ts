/** What the user-mode network programs (pasta, slirp4netns) share: /dev/net/tun, and stopping one named in a pid file. */
import { accessSync, constants, readFileSync } from 'node:fs';

/** pasta and slirp4netns need /dev/net/tun, which some systems keep 0600 root. */
export function haveTun(): boolean {
  try { accessSync('/dev/net/tun', constants.R_OK | constants.W_OK); return true; } catch { return false; }
}

/** SIGTERM the process named in `pidFile`, only if it still runs `exe` (not a reused pid). */
export function stopByPidFile(pidFile: string, exe: string): void {
  let pid: number;
  try { pid = Number(readFileSync(pidFile, 'utf8').trim()); } catch { return; }
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  try {
    if ((readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '') !== exe) return; // the pid was reused
    process.kill(pid, 'SIGTERM');
  } catch { /* gone */ }
}
