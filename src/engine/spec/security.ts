/**
 * Security settings as dockerd applies them: --security-opt parsing (daemon parseSecurityOpt),
 * capabilities (oci/caps TweakCapabilities), seccomp (WithSeccomp), AppArmor, no-new-privileges,
 * masked and read-only paths, and devices (WithDevices, oci DevicesFromPath, coci.HostDevices).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../lib/index.js';
import {
  CAPABILITIES, DOCKER_DEFAULT_CAPS, DOCKER_MASKED_PATHS, convertDockerSeccomp, dockerDefaultSeccomp, dockerThermalThrottlePaths,
  isCapability, type DockerSeccompProfile, type LinuxDevice, type LinuxDeviceCgroup, type Spec,
} from '../../oci/index.js';
import { deviceNumbers } from './resources.js';
import type { DeviceMapping, RunOptions, SpecContext } from './types.js';

const bad = (message: string) => new BerthError({ kind: 'invalid', op: 'create container', message });

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** '' = default profile, 'unconfined', 'builtin', or a profile's JSON. */
  seccomp: string;
  apparmor: string;
  labels: string[];
  /** `systempaths=unconfined`: no masked or read-only paths. */
  unmaskSystemPaths: boolean;
}

/** moby parseSecurityOpt (plus the CLI's `systempaths=unconfined`). */
export function parseSecurityOpts(list: readonly string[] = []): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, seccomp: '', apparmor: '', labels: [], unmaskSystemPaths: false };
  for (const opt of list) {
    if (opt === 'no-new-privileges') { out.noNewPrivileges = true; continue; }
    if (opt === 'disable') { out.labels.push('disable'); continue; }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw bad(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const i = opt.indexOf(sep);
    const k = opt.slice(0, i);
    const v = opt.slice(i + 1);
    switch (k) {
      case 'label': out.labels.push(v); break;
      case 'apparmor': out.apparmor = v; break;
      case 'seccomp': out.seccomp = v; break;
      case 'no-new-privileges': {
        const b = ({ '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false } as Record<string, boolean>)[v];
        if (b === undefined) throw bad(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.noNewPrivileges = b;
        break;
      }
      case 'systempaths':
        if (v !== 'unconfined') throw bad(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.unmaskSystemPaths = true;
        break;
      default: throw bad(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  for (const l of out.labels) {
    if (l !== 'disable' && !/^(user|role|type|level|filetype):/.test(l) && l !== 'nested') throw bad(`bad label option ${JSON.stringify(l)}, valid options 'disable' or 'user, role, level, type, filetype' followed by ':' and a value`);
  }
  return out;
}

/** Every capability the host kernel has (cap_last_cap), in number order. */
export function allCapabilities(): string[] {
  let last = CAPABILITIES.length - 1;
  try { last = Math.min(last, Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim())); } catch { /* keep all known */ }
  // Like dockerd (caps.GetAllCapabilities), only what this process can grant: its bounding set.
  let bounding = -1n;
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) bounding = BigInt(`0x${m[1]}`);
  } catch { /* assume all */ }
  return CAPABILITIES.slice(0, last + 1).filter((_c, i) => bounding < 0n || ((bounding >> BigInt(i)) & 1n) === 1n);
}

function normalizeCaps(list: readonly string[]): string[] {
  return list.map((c) => {
    let n = c.toUpperCase();
    if (n === 'ALL') return n;
    if (!n.startsWith('CAP_')) n = 'CAP_' + n;
    if (!isCapability(n)) throw bad(`unknown capability: ${JSON.stringify(n)}`);
    return n;
  });
}

/** moby TweakCapabilities (duplicates dropped). */
export function tweakCapabilities(adds: readonly string[] = [], drops: readonly string[] = [], privileged = false): string[] {
  if (privileged) return allCapabilities();
  if (!adds.length && !drops.length) return [...DOCKER_DEFAULT_CAPS];
  const capDrop = normalizeCaps(drops);
  const capAdd = normalizeCaps(adds);
  let caps: string[];
  if (capAdd.includes('ALL')) caps = allCapabilities().filter((c) => !capDrop.includes(c));
  else if (capDrop.includes('ALL')) caps = capAdd;
  else caps = [...DOCKER_DEFAULT_CAPS.filter((c) => !capDrop.includes(c)), ...capAdd];
  return [...new Set(caps)];
}

/** The masked paths dockerd uses on this host: its list plus the thermal_throttle dirs that exist. */
export function hostMaskedPaths(): string[] {
  let cpus: number[] = [];
  try {
    for (const part of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
      const [a, b] = part.split('-').map(Number);
      for (let i = a; i <= (b ?? a); i++) cpus.push(i);
    }
  } catch { cpus = []; }
  return [...DOCKER_MASKED_PATHS, ...dockerThermalThrottlePaths(cpus).filter((p) => existsSync(p))];
}

/** Capabilities, seccomp, AppArmor, no-new-privileges, masked/read-only paths. */
export function applySecurity(spec: Spec, opts: RunOptions, ctx: SpecContext, sec: SecurityOptions): void {
  const caps = tweakCapabilities(opts.capAdd, opts.capDrop, opts.privileged);
  const proc = spec.process!;
  proc.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
  if (sec.noNewPrivileges) proc.noNewPrivileges = true;
  const linux = (spec.linux ??= {});
  if (opts.privileged || sec.unmaskSystemPaths) {
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
  }
  if (!opts.privileged && sec.seccomp !== 'unconfined') {
    const seccompOpts = { caps, kernel: ctx.kernel, arch: ctx.arch };
    if (sec.seccomp === '' || sec.seccomp === 'builtin') linux.seccomp = dockerDefaultSeccomp(seccompOpts);
    else {
      let profile: DockerSeccompProfile;
      try { profile = JSON.parse(sec.seccomp) as DockerSeccompProfile; } catch (e) {
        throw bad(`Decoding seccomp profile failed: ${(e as Error).message}`);
      }
      const converted = convertDockerSeccomp(profile, seccompOpts);
      if (converted) linux.seccomp = converted;
    }
  }
  if (ctx.apparmor) {
    const profile = sec.apparmor || (opts.privileged ? 'unconfined' : '');
    if (profile && profile !== 'unconfined') proc.apparmorProfile = profile;
  }
}

// ---- devices ----

function deviceFromStat(path: string, st: Stats): LinuxDevice | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : undefined;
  if (!type) return undefined;
  return { path, type, ...deviceNumbers(path), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

const cgroupRule = (d: LinuxDevice, access: string): LinuxDeviceCgroup => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access });

/** moby DevicesFromPath: one device node, or every device under a directory. */
export function devicesFromPath(m: DeviceMapping): { devices: LinuxDevice[]; rules: LinuxDeviceCgroup[] } {
  let host = m.pathOnHost;
  try { if (lstatSync(host).isSymbolicLink()) host = realpathSync(host); } catch { /* reported below */ }
  const devices: LinuxDevice[] = [];
  let st: Stats | undefined;
  try { st = statSync(host); } catch { st = undefined; }
  if (st) {
    const d = deviceFromStat(host, st);
    if (d) devices.push({ ...d, path: m.pathInContainer });
    else if (st.isDirectory()) {
      const walk = (dir: string) => {
        for (const name of readdirSync(dir).sort()) {
          const p = join(dir, name);
          let s: Stats;
          try { s = lstatSync(p); } catch { continue; }
          if (s.isDirectory()) { walk(p); continue; }
          const child = deviceFromStat(p, s);
          if (child) devices.push({ ...child, path: p.replace(host, m.pathInContainer) });
        }
      };
      walk(host);
    }
  }
  if (!devices.length) {
    throw bad(`error gathering device information while adding custom device ${JSON.stringify(m.pathOnHost)}: ${st ? 'not a device node' : 'no such file or directory'}`);
  }
  return { devices, rules: devices.map((d) => cgroupRule(d, m.cgroupPermissions)) };
}

const HOST_DEV_SKIP = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** containerd HostDevices: every device node under /dev (not pts, shm, fd, mqueue; not console). */
export function hostDevices(dir = '/dev'): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  const walk = (d: string) => {
    let names: string[];
    try { names = readdirSync(d).sort(); } catch { return; }
    for (const name of names) {
      const p = join(d, name);
      let s: Stats;
      try { s = lstatSync(p); } catch { continue; }
      if (s.isDirectory()) { if (!HOST_DEV_SKIP.has(name)) walk(p); continue; }
      if (name === 'console') continue;
      const dev = s.isCharacterDevice() || s.isBlockDevice() ? deviceFromStat(p, s) : undefined;
      if (dev) out.push(dev);
    }
  };
  walk(dir);
  return out;
}

/** linux.devices and the device cgroup rules (appended to Docker's defaults already in the spec). */
export function applyDevices(spec: Spec, opts: RunOptions, ctx: SpecContext): void {
  const linux = (spec.linux ??= {});
  const devs: LinuxDevice[] = [];
  let rules: LinuxDeviceCgroup[] = [];
  if (opts.privileged) {
    devs.push(...hostDevices(ctx.hostDevDir ?? '/dev'));
    for (const m of opts.devices ?? []) {
      if (m.pathOnHost === m.pathInContainer) continue; // already there through /dev
      devs.push(...devicesFromPath({ ...m, cgroupPermissions: 'rwm' }).devices);
    }
    rules = [{ allow: true, access: 'rwm' }];
  } else {
    for (const m of opts.devices ?? []) {
      const r = devicesFromPath(m);
      devs.push(...r.devices);
      rules.push(...r.rules);
    }
  }
  linux.devices = [...(linux.devices ?? []), ...devs];
  const res = (linux.resources ??= {});
  res.devices = [...(res.devices ?? []), ...rules];
}
