/**
 * Docker's default seccomp profile (moby/profiles seccomp v0.2.3, vendored by moby docker-v29.7.2,
 * copied to src/oci/data/moby-docker-v29.7.2/) and moby's conversion of its extended format into an
 * OCI `linux.seccomp` (moby/profiles seccomp/seccomp_linux.go setupSeccomp): pick the archMap entry
 * of the native architecture, then keep a rule only if no `excludes` matches (arch, any bounding
 * cap, kernel >= minKernel) and every `includes` matches (arch, all caps, kernel >= minKernel).
 */
import { BerthError } from '../lib/index.js';
import { DOCKER_SECCOMP_PROFILE_JSON } from './generated/docker-seccomp.js';
import type { LinuxSeccomp, LinuxSyscall } from './spec.js';

/** A rule of Docker's extended profile format. */
export interface DockerSeccompRule extends Partial<LinuxSyscall> {
  name?: string;
  comment?: string;
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}

export interface DockerSeccompFilter {
  arches?: string[];
  caps?: string[];
  /** "major.minor" */
  minKernel?: string;
}

/** Docker's extended profile: an OCI LinuxSeccomp plus archMap and filtered rules. */
export interface DockerSeccompProfile extends Omit<LinuxSeccomp, 'syscalls' | 'defaultAction'> {
  defaultAction?: LinuxSeccomp['defaultAction'];
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  syscalls?: DockerSeccompRule[];
}

export interface DockerSeccompOptions {
  /** GOARCH-style (`amd64`, `arm64`, `386`, ...) or Node's process.arch (`x64`, `ia32`, ...); default process.arch. */
  arch?: string;
  /** The container's bounding capability set. */
  caps: readonly string[];
  /** [major, minor] of the host kernel (see kernelVersion()). */
  kernel: readonly [number, number];
}

// moby seccomp_linux.go: GOARCH -> libseccomp-style native name -> SCMP_ARCH_*.
const GO_TO_NATIVE: Readonly<Record<string, string>> = {
  '386': 'x86', amd64: 'amd64', arm: 'arm', arm64: 'arm64', loong64: 'loongarch64', mips64: 'mips64',
  mips64p32: 'mips64n32', mips64le: 'mipsel64', mips64p32le: 'mips3l64n32', mipsle: 'mipsel', ppc: 'ppc',
  ppc64: 'ppc64', ppc64le: 'ppc64le', riscv64: 'riscv64', s390: 's390', s390x: 's390x',
};
const NATIVE_TO_SECCOMP: Readonly<Record<string, string>> = {
  x86: 'SCMP_ARCH_X86', amd64: 'SCMP_ARCH_X86_64', arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64',
  loong64: 'SCMP_ARCH_LOONGARCH64', mips64: 'SCMP_ARCH_MIPS64', mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64', mips3l64n32: 'SCMP_ARCH_MIPSEL64N32', mipsle: 'SCMP_ARCH_MIPSEL', ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64', ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64', s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};
// Node's process.arch -> GOARCH (Node reports little-endian ppc64 as "ppc64").
const NODE_TO_GO: Readonly<Record<string, string>> = {
  x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
  loong64: 'loong64', mips64el: 'mips64le', mipsel: 'mipsle', mips: 'mips',
};

const OP = 'docker seccomp profile';

/** Parse "6.18.0-foo" / "3.12-1-amd64" into [major, minor] as moby does (only the first two numbers count). */
export function kernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new BerthError({ kind: 'invalid', op: OP, message: `${OP}: cannot parse kernel version ${JSON.stringify(release)}` });
  return [Number(m[1]), Number(m[2])];
}

function kernelAtLeast(kernel: readonly [number, number], min: string): boolean {
  const [maj, minor] = kernelVersion(min);
  return kernel[0] > maj || (kernel[0] === maj && kernel[1] >= minor);
}

/** The profile as shipped (a fresh copy each call). */
export function dockerSeccompProfile(): DockerSeccompProfile {
  return JSON.parse(DOCKER_SECCOMP_PROFILE_JSON) as DockerSeccompProfile;
}

/** Convert a Docker-format profile for a container, as moby's setupSeccomp does. */
export function convertDockerSeccomp(profile: DockerSeccompProfile, opts: DockerSeccompOptions): LinuxSeccomp | undefined {
  if (!profile.defaultAction && !profile.syscalls?.length) return undefined; // seccomp disabled
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new BerthError({ kind: 'invalid', op: OP, message: `${OP}: both 'architectures' and 'archMap' are specified, use either 'architectures' or 'archMap'` });
  }
  const requested = opts.arch ?? process.arch;
  const goarch = NODE_TO_GO[requested] && !GO_TO_NATIVE[requested] ? NODE_TO_GO[requested] : requested;
  const arch = GO_TO_NATIVE[goarch] ?? '';
  if (!profile.defaultAction) throw new BerthError({ kind: 'invalid', op: OP, message: `${OP}: no defaultAction` });
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const architectures = [...(profile.architectures ?? [])];
  const native = NATIVE_TO_SECCOMP[arch];
  if (native) {
    const entry = profile.archMap?.find((a) => a.architecture === native);
    if (entry) architectures.push(entry.architecture, ...(entry.subArchitectures ?? []));
  }
  if (architectures.length) out.architectures = architectures;
  if (profile.flags !== undefined) out.flags = [...profile.flags];
  if (profile.listenerPath !== undefined) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata !== undefined) out.listenerMetadata = profile.listenerMetadata;

  const bounding = new Set(opts.caps);
  const syscalls: LinuxSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    let names = rule.names;
    if (rule.name) {
      if (names?.length) throw new BerthError({ kind: 'invalid', op: OP, message: `${OP}: both 'name' and 'names' are specified, use either 'name' or 'names'` });
      names = [rule.name];
    }
    const ex = rule.excludes;
    if (ex) {
      if (ex.arches?.includes(arch)) continue;
      if (ex.caps?.some((c) => bounding.has(c))) continue;
      if (ex.minKernel && kernelAtLeast(opts.kernel, ex.minKernel)) continue;
    }
    const inc = rule.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.includes(arch)) continue;
      if (inc.caps?.length && !inc.caps.every((c) => bounding.has(c))) continue;
      if (inc.minKernel && !kernelAtLeast(opts.kernel, inc.minKernel)) continue;
    }
    if (!rule.action) throw new BerthError({ kind: 'invalid', op: OP, message: `${OP}: rule for ${JSON.stringify(names)} has no action` });
    const call: LinuxSyscall = { names: [...(names ?? [])], action: rule.action };
    if (rule.errnoRet !== undefined) call.errnoRet = rule.errnoRet;
    if (rule.args?.length) call.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(call);
  }
  if (syscalls.length) out.syscalls = syscalls;
  return out;
}

/** Docker's default profile converted for a container (what dockerd hands to runc). */
export function dockerDefaultSeccomp(opts: DockerSeccompOptions): LinuxSeccomp {
  return convertDockerSeccomp(dockerSeccompProfile(), opts) as LinuxSeccomp;
}
