/**
 * The `features` document of berth-runtime (runtime-spec features.md / features-schema.json):
 * what this runtime understands, independent of the host. Seccomp archs are those libseccomp 2.5
 * (the version the helper is built against on Debian 12) can resolve.
 */
import { CAPABILITIES } from './capabilities.js';
import { NAMESPACES } from './constants.js';
import { knownMountOptions } from './mountopts.js';
import { SECCOMP_ACTIONS, SECCOMP_FLAGS, SECCOMP_OPERATORS } from './seccomp.js';
import { HOOK_NAMES, OCI_VERSION, type Features, type LinuxSeccompFlag, type LinuxSeccompOperator } from './spec.js';

const LIBSECCOMP_25_ARCHS = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
];

export interface FeaturesOptions {
  /** Seccomp flags the kernel + libseccomp accept (default: all but WAIT_KILLABLE_RECV, which needs libseccomp 2.6). */
  supportedSeccompFlags?: LinuxSeccompFlag[];
  /** Seccomp architectures libseccomp resolves (default: libseccomp 2.5's list). */
  seccompArchs?: string[];
  /** Extra annotations (e.g. the runtime's version). */
  annotations?: Record<string, string>;
}

export function runtimeFeatures(opts: FeaturesOptions = {}): Features {
  const knownFlags = Object.keys(SECCOMP_FLAGS) as LinuxSeccompFlag[];
  // idmap/ridmap are parsed but not implemented (mountExtensions.idmap.enabled is false).
  const mountOptions = knownMountOptions().filter((o) => o !== 'idmap' && o !== 'ridmap');
  const f: Features = {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_NAMES],
    mountOptions,
    linux: {
      namespaces: NAMESPACES.map((n) => n.type).sort(),
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS],
        operators: Object.keys(SECCOMP_OPERATORS) as LinuxSeccompOperator[],
        archs: [...(opts.seccompArchs ?? LIBSECCOMP_25_ARCHS)],
        knownFlags,
        supportedFlags: [...(opts.supportedSeccompFlags ?? knownFlags.filter((x) => x !== 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'))],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
      netDevices: { enabled: false },
    },
  };
  if (opts.annotations) f.annotations = { ...opts.annotations };
  return f;
}
