/** Installing a device-filter program on a cgroup v2 directory, replacing the one installed before (as runc). */
import { constants, openSync, statfsSync } from 'node:fs';
import { BerthError, wrapError } from '../lib/index.js';
import {
  BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_F_REPLACE, BPF_PROG_TYPE_CGROUP_DEVICE,
  bpfProgAttach, bpfProgDetach, bpfProgGetFdById, bpfProgLoad, bpfProgQuery, bpfClose,
} from '../sys/index.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;

function fail(dir: string, e: unknown): BerthError {
  const be = e as BerthError;
  return new BerthError({
    kind: 'system', op: 'set devices', path: dir, errno: be?.errno, code: be?.code,
    message: `set devices: ${dir}: ${be?.message ?? String(e)}`, cause: e,
  });
}

/** The programs of `attachType` attached directly to the cgroup (their fds; the caller closes them). */
function attachedPrograms(cgFd: number): number[] {
  const fds: number[] = [];
  try {
    for (const id of bpfProgQuery(cgFd, BPF_CGROUP_DEVICE)) fds.push(bpfProgGetFdById(id));
  } catch (e) {
    fds.forEach(bpfClose);
    throw e;
  }
  return fds;
}

/** Load `insns` as a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to `dir` with BPF_F_ALLOW_MULTI. */
export function attachDeviceProgram(dir: string, insns: Buffer, license: string): void {
  let magic: number;
  try { magic = Number(statfsSync(dir).type); } catch (e) { throw wrapError(e, 'set devices: statfs', dir); }
  if (magic !== CGROUP2_SUPER_MAGIC) {
    throw new BerthError({ kind: 'system', op: 'set devices', path: dir, message: `set devices: ${dir} is not on a cgroup2 filesystem: cannot attach a device filter` });
  }
  let cgFd: number;
  try { cgFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY); } catch (e) { throw wrapError(e, 'set devices: open', dir); }
  let olds: number[] = [];
  let prog = -1;
  try {
    olds = attachedPrograms(cgFd);
    prog = bpfProgLoad({ progType: BPF_PROG_TYPE_CGROUP_DEVICE, insns, license, expectedAttachType: BPF_CGROUP_DEVICE, name: 'berth_devices' });
    if (olds.length === 1) {
      try {
        bpfProgAttach(cgFd, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, olds[0]);
        return;
      } catch (e) {
        // Kernels without BPF_F_REPLACE: attach the new one, then detach the old one below.
        if ((e as BerthError).code !== 'EINVAL') throw e;
      }
    }
    bpfProgAttach(cgFd, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
    for (const old of olds) bpfProgDetach(cgFd, old, BPF_CGROUP_DEVICE);
  } catch (e) {
    throw fail(dir, e);
  } finally {
    if (prog >= 0) bpfClose(prog);
    olds.forEach(bpfClose);
    bpfClose(cgFd);
  }
}

/** The ids of the device programs attached to `dir` (for diagnostics and tests). */
export function deviceProgramIds(dir: string): number[] {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { return bpfProgQuery(fd, BPF_CGROUP_DEVICE); } finally { bpfClose(fd); }
}
