/**
 * Namespaces by mode (moby daemon/oci_linux.go WithNamespaces, runconfig mode checks) and sysctls
 * (withCommonOptions' defaults, WithSysctls, and runc's validation of which sysctls a container's
 * namespaces allow).
 */
import { existsSync, statSync } from 'node:fs';
import { BerthError } from '../../lib/index.js';
import type { LinuxNamespace, LinuxNamespaceType, Spec } from '../../oci/index.js';
import type { RunOptions, SpecContext } from './types.js';

const bad = (message: string) => new BerthError({ kind: 'invalid', op: 'create container', message });

/** `container:<pid>` -> /proc/<pid>/ns/<file>; `container:/path` -> /path. */
export function containerNsPath(mode: string, file: string): string {
  const t = mode.slice('container:'.length);
  if (/^\d+$/.test(t)) return `/proc/${t}/ns/${file}`;
  if (t.startsWith('/')) return t;
  throw bad(`${mode}: the engine must resolve the container to a pid or namespace path`);
}

function setNs(spec: Spec, type: LinuxNamespaceType, path?: string): void {
  const list = ((spec.linux ??= {}).namespaces ??= []);
  const ns: LinuxNamespace = { type };
  if (path) ns.path = path;
  const i = list.findIndex((n) => n.type === type);
  if (i >= 0) list[i] = ns; else list.push(ns);
}

function removeNs(spec: Spec, type: LinuxNamespaceType): void {
  const linux = (spec.linux ??= {});
  linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== type);
}

const isContainer = (m: string) => m.startsWith('container:');

/** Validate every mode with Docker's wording. */
export function validateModes(opts: RunOptions): void {
  const ipc = opts.ipc ?? '';
  if (!['', 'private', 'shareable', 'none', 'host'].includes(ipc) && !(isContainer(ipc) && ipc.length > 10)) throw bad(`invalid IPC mode: ${ipc}`);
  const pid = opts.pid ?? '';
  if (!['', 'host'].includes(pid) && !(isContainer(pid) && pid.length > 10)) throw bad(`invalid PID mode: ${pid}`);
  if (!['', 'host'].includes(opts.uts ?? '')) throw bad(`invalid UTS mode: ${opts.uts}`);
  if (!['', 'host', 'private'].includes(opts.cgroupns ?? '')) throw bad(`invalid cgroup namespace mode: ${opts.cgroupns}`);
  // keep-id (podman): the user's own id inside, for rootless only (engine/rootless/spec.ts)
  if (opts.userns === 'keep-id' && process.geteuid?.() === 0) throw bad('invalid USER mode: keep-id is for rootless containers (run as an ordinary user)');
  if (!['', 'host', 'keep-id'].includes(opts.userns ?? '')) throw bad(`invalid USER mode: ${opts.userns}`);
  const net = opts.network ?? '';
  if (net === 'container:') throw bad('invalid container format container:<name|id>');
}

/** The namespaces of Docker's default spec adjusted to the modes. */
export function applyNamespaces(spec: Spec, opts: RunOptions, ctx: SpecContext): void {
  validateModes(opts);
  const net = opts.network ?? '';
  if (net === 'host') removeNs(spec, 'network');
  else if (isContainer(net)) setNs(spec, 'network', containerNsPath(net, 'net'));
  else setNs(spec, 'network');

  const ipc = opts.ipc ?? '';
  if (ipc === 'host') removeNs(spec, 'ipc');
  else if (isContainer(ipc)) setNs(spec, 'ipc', containerNsPath(ipc, 'ipc'));
  else setNs(spec, 'ipc');

  const pid = opts.pid ?? '';
  if (pid === 'host') removeNs(spec, 'pid');
  else if (isContainer(pid)) setNs(spec, 'pid', containerNsPath(pid, 'pid'));
  else setNs(spec, 'pid');

  if (opts.uts === 'host') {
    removeNs(spec, 'uts');
    delete spec.hostname;
  } else setNs(spec, 'uts');

  const cgroupns = opts.cgroupns || ctx.defaultCgroupns || 'host';
  if (cgroupns === 'private') setNs(spec, 'cgroup'); else removeNs(spec, 'cgroup');
}

const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** True when `path` is this process's own network namespace (runc isHostNetNS). */
function isHostNetNs(path: string): boolean {
  try {
    const a = statSync(path);
    const b = statSync('/proc/self/ns/net');
    return a.dev === b.dev && a.ino === b.ino;
  } catch (e) {
    throw bad(`invalid netns path: ${(e as Error).message}`);
  }
}

/** runc's check that every sysctl belongs to a namespace of the container. */
export function validateSysctls(spec: Spec): void {
  const ns = spec.linux?.namespaces ?? [];
  const has = (t: LinuxNamespaceType) => ns.some((n) => n.type === t);
  let hostnet: boolean | undefined;
  for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
    if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
      if (has('ipc')) continue;
      throw bad(`sysctl ${JSON.stringify(key)} is not allowed in the hosts ipc namespace`);
    }
    if (key.startsWith('net.')) {
      if (hostnet === undefined) {
        const n = ns.find((x) => x.type === 'network');
        hostnet = !n ? true : n.path ? isHostNetNs(n.path) : false;
      }
      if (hostnet) throw bad(`sysctl ${JSON.stringify(key)} not allowed in host network namespace`);
      continue;
    }
    if (has('uts')) {
      if (key === 'kernel.domainname') continue;
      if (key === 'kernel.hostname') throw bad(`sysctl ${JSON.stringify(key)} is not allowed as it conflicts with the OCI "hostname" field`);
    }
    throw bad(`sysctl ${JSON.stringify(key)} is not in a separate kernel namespace`);
  }
}

/** kernel.domainname, the defaults for a private network namespace, then the user's sysctls. */
export function applySysctls(spec: Spec, opts: RunOptions, domainname: string): void {
  const sysctl: Record<string, string> = {};
  if (domainname) sysctl['kernel.domainname'] = domainname;
  const net = opts.network ?? '';
  if (net !== 'host' && !isContainer(net)) {
    if (existsSync('/proc/sys/net/ipv4/ping_group_range')) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  Object.assign(sysctl, opts.sysctls ?? {});
  const linux = (spec.linux ??= {});
  if (Object.keys(sysctl).length) linux.sysctl = sysctl; else delete linux.sysctl;
  validateSysctls(spec);
}
