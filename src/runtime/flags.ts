/** Kernel constants the plan compiler needs, gathered from src/oci. */
import {
  MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED,
  NAMESPACES as NS_TABLE,
} from '../oci/index.js';

export const MS = {
  RDONLY: MS_RDONLY, NOSUID: MS_NOSUID, NODEV: MS_NODEV, NOEXEC: MS_NOEXEC, REMOUNT: MS_REMOUNT, BIND: MS_BIND, MOVE: MS_MOVE, REC: MS_REC,
  UNBINDABLE: MS_UNBINDABLE, PRIVATE: MS_PRIVATE, SLAVE: MS_SLAVE, SHARED: MS_SHARED,
} as const;
export const PROPAGATION_MASK = MS.UNBINDABLE | MS.PRIVATE | MS.SLAVE | MS.SHARED;

/** runtime-spec namespace type → clone flag and /proc/PID/ns file. */
export const NAMESPACES: Record<string, { flag: number; file: string }> = Object.fromEntries(NS_TABLE.map((n) => [n.type, { flag: n.flag, file: n.file }]));

/** The order namespaces are joined in: user first (it grants the rights to join the others). */
export const JOIN_ORDER = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];
