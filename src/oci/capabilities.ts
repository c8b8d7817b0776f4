/** Linux capability names (linux/capability.h) and masks, plus the default sets of Docker and runc. */
import { BerthError } from '../lib/index.js';

/** Index = capability number. CAP_CHECKPOINT_RESTORE (40) is the last one as of Linux 6.x. */
export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const CAP_LAST_CAP = CAPABILITIES.length - 1;

const byName = new Map(CAPABILITIES.map((n, i) => [n, i]));

/** Docker's default capabilities (moby daemon/pkg/oci/caps/defaults.go; containerd defaultUnixCaps). */
export const DOCKER_DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** What `runc spec` puts in every capability set (runc libcontainer/specconv/example.go). */
export const RUNC_SPEC_CAPS: readonly string[] = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** True when `name` is a capability name known here (CAP_ prefix required, upper case). */
export function isCapability(name: string): boolean {
  return byName.has(name);
}

/** The number of a capability, e.g. capNumber('CAP_KILL') === 5; throws on an unknown name. */
export function capNumber(name: string): number {
  const n = byName.get(name);
  if (n === undefined) throw unknownCap(name);
  return n;
}

/** The name of capability number `n`; throws when out of range. */
export function capName(n: number): string {
  const name = CAPABILITIES[n];
  if (name === undefined) throw new BerthError({ kind: 'invalid', op: 'capability', message: `capability: unknown capability number ${n}` });
  return name;
}

/** The 64-bit mask with the bit of every named capability set; throws on an unknown capability. */
export function capMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const n of names ?? []) mask |= 1n << BigInt(capNumber(n));
  return mask;
}

/** The names whose bits are set in `mask` (bits above CAP_LAST_CAP are ignored). */
export function capNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i <= CAP_LAST_CAP; i++) if (mask & (1n << BigInt(i))) out.push(CAPABILITIES[i]);
  return out;
}

/** The mask of every capability known here. */
export function allCapsMask(): bigint {
  return (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;
}

function unknownCap(name: string): BerthError {
  return new BerthError({ kind: 'invalid', op: 'capability', message: `unknown capability ${JSON.stringify(name)}` });
}
