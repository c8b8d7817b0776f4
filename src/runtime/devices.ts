/** The device cgroup rules a container always gets on top of its config (runc's AllowedDevices). */
import type { LinuxDeviceCgroup, LinuxResources, Spec } from '../oci/index.js';

const ALWAYS: LinuxDeviceCgroup[] = [
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

/** Resources with the default devices and the config's own devices allowed after the config's rules. */
export function effectiveResources(spec: Spec): LinuxResources | undefined {
  const res = spec.linux?.resources;
  const own: LinuxDeviceCgroup[] = (spec.linux?.devices ?? []).filter((d) => d.type !== 'p').map((d) => ({ allow: true, type: d.type === 'u' ? 'c' : d.type, major: d.major, minor: d.minor, access: 'rwm' } as LinuxDeviceCgroup));
  if (!res?.devices && !own.length) return res;
  return { ...(res ?? {}), devices: [...(res?.devices ?? []), ...ALWAYS, ...own] };
}
