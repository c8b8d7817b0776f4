/** Whether AppArmor / SELinux are enabled on this host (labels are ignored otherwise, as crun does). */
import { readFileSync, existsSync } from 'node:fs';

let cached: { apparmor: boolean; selinux: boolean } | undefined;

export function lsmEnabled(): { apparmor: boolean; selinux: boolean } {
  if (cached) return cached;
  let apparmor = false;
  try { apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y'; } catch { /* not built in */ }
  const selinux = existsSync('/sys/fs/selinux/enforce');
  return (cached = { apparmor, selinux });
}
