/**
 * Rootless networking by slirp4netns (issue 17), podman's other user-mode scheme: `--network
 * slirp4netns[:OPT=VAL,…]`, and the default where pasta is missing. The container gets a network
 * namespace of its own; right after its id maps are written the helper parent starts slirp4netns
 * for the child's pid (a `pid_spawn` step: its own session, cwd the run directory, output to
 * `slirp4netns.log`, pid in `slirp4netns.pid`) and waits for its `--ready-fd`. Its `--exit-fd` is a
 * pipe whose write end the monitor keeps: slirp4netns quits when the monitor does, and teardown
 * stops it by its pid file first. `-p` ports are added through its API socket (`add_hostfwd`, a
 * `unix_call` step per port), as podman's `port_handler=slirp4netns`; slirp4netns binds IPv4 host
 * addresses only, so an all-addresses port is recorded as 0.0.0.0.
 */
import { accessSync, constants } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { step, type Step } from '../../sys/index.js';
import type { RunOptions } from '../spec/index.js';
import type { PublishedPort } from '../../network/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from '../containers/core.js';
import { allocatePorts, reclaimStale } from '../networks/attach.js';
import { haveTun, stopByPidFile } from './tools.js';

export const SLIRP4NETNS = '/usr/bin/slirp4netns';
export const SLIRP_MODE = 'slirp4netns';
const PASTA_MODE = 'pasta';
/** Files in the container's run directory (removed with it at teardown). */
const PID_FILE = 'slirp4netns.pid', LOG_FILE = 'slirp4netns.log', API_SOCKET = 'slirp4netns.sock';
const READY_FD = 3, EXIT_FD = 4, READY_TIMEOUT_MS = 10_000, CALL_TIMEOUT_MS = 5_000;

export interface SlirpOptions {
  allowHostLoopback: boolean;
  mtu: number;
  cidr?: string;
  enableIPv6: boolean;
  outboundAddr?: string;
  outboundAddr6?: string;
}

const KNOWN = ['allow_host_loopback', 'cidr', 'enable_ipv6', 'mtu', 'outbound_addr', 'outbound_addr6', 'port_handler'];

/** Whether mode is slirp4netns's; with op, its options are checked too (create refuses bad ones). */
export function isSlirpMode(mode: string | undefined, op?: string): boolean {
  const is = mode === SLIRP_MODE || !!mode?.startsWith(`${SLIRP_MODE}:`);
  if (is && op) parseSlirpMode(mode!, op);
  return is;
}

export function haveSlirp(): boolean {
  try { accessSync(SLIRP4NETNS, constants.X_OK); return true; } catch { return false; }
}

/**
 * The rootless default network: the configured one (env BERTH_ROOTLESS_NETWORK, config
 * `rootless-network`: `pasta` or `slirp4netns[:OPT=VAL,…]`), else pasta where usable, else
 * slirp4netns where usable; undefined when neither is (the caller falls back to `none`).
 */
export function rootlessDefault(choice: string | undefined, pastaUsable: boolean, op: string): string | undefined {
  if (choice) {
    if (choice !== PASTA_MODE && !isSlirpMode(choice)) {
      throw new BerthError({ kind: 'usage', op, message: `${op}: rootless network ${JSON.stringify(choice)}: must be pasta or slirp4netns[:OPTION=VALUE,…] (BERTH_ROOTLESS_NETWORK, config rootless-network)` });
    }
    return choice;
  }
  if (pastaUsable) return PASTA_MODE;
  if (haveSlirp() && haveTun()) return SLIRP_MODE;
  return undefined;
}

function bool(op: string, k: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw bad(op, `${k}=${v}: must be true or false`);
}

function bad(op: string, what: string): BerthError {
  return new BerthError({ kind: 'usage', op, message: `${op}: --network slirp4netns: ${what}` });
}

/** podman's `slirp4netns:OPT=VAL,…` options, those berth implements; any other is refused. */
export function parseSlirpMode(mode: string, op: string): SlirpOptions {
  const o: SlirpOptions = { allowHostLoopback: false, mtu: 65520, enableIPv6: false };
  const rest = mode.slice(SLIRP_MODE.length + 1);
  if (mode === SLIRP_MODE || !rest) return o;
  for (const kv of rest.split(',')) {
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq), v = eq < 0 ? '' : kv.slice(eq + 1);
    if (!KNOWN.includes(k)) throw bad(op, `unknown option ${JSON.stringify(k)} (supported: ${KNOWN.join(', ')})`);
    if (eq < 0 || !v) throw bad(op, `option ${k} needs a value (${k}=VALUE)`);
    switch (k) {
      case 'allow_host_loopback': o.allowHostLoopback = bool(op, k, v); break;
      case 'enable_ipv6': o.enableIPv6 = bool(op, k, v); break;
      case 'mtu': {
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 68 || n > 65521) throw bad(op, `mtu=${v}: must be a number in 68-65521`);
        o.mtu = n;
        break;
      }
      case 'cidr': {
        const [a, len] = v.split('/');
        if (!a || !isIPv4(a) || !/^\d+$/.test(len ?? '') || Number(len) > 25 || Number(len) < 1) throw bad(op, `cidr=${v}: must be an IPv4 network A.B.C.D/N with N at most 25`);
        o.cidr = v;
        break;
      }
      case 'outbound_addr': if (!isIPv4(v)) throw bad(op, `outbound_addr=${v}: must be an IPv4 address`); o.outboundAddr = v; break;
      case 'outbound_addr6': if (!isIPv6(v)) throw bad(op, `outbound_addr6=${v}: must be an IPv6 address`); o.outboundAddr6 = v; break;
      case 'port_handler':
        if (v === 'rootlesskit') throw bad(op, 'port_handler=rootlesskit: berth has no rootlesskit port handler; its ports go through slirp4netns (port_handler=slirp4netns)');
        if (v !== 'slirp4netns') throw bad(op, `port_handler=${v}: must be slirp4netns`);
        break;
    }
  }
  return o;
}

function checkSlirp(op: string): void {
  if (!haveSlirp()) throw new BerthError({ kind: 'system', op, path: SLIRP4NETNS, message: `${op}: --network slirp4netns needs ${SLIRP4NETNS} (apt-get install slirp4netns), or use --network none or host` });
  if (!haveTun()) throw new BerthError({ kind: 'system', op, path: '/dev/net/tun', message: `${op}: rootless networking (slirp4netns) needs read and write access to /dev/net/tun (it is usually 0666), or use --network none or host` });
}

/** The API request that forwards one published port (slirp4netns binds IPv4 host addresses only). */
export function hostfwdRequest(p: PublishedPort): string {
  return JSON.stringify({ execute: 'add_hostfwd', arguments: { proto: p.proto, host_addr: p.hostIp || '0.0.0.0', host_port: p.hostPort, guest_port: p.containerPort } });
}

/** The helper's post steps: start slirp4netns for the child, then forward each port through its API. */
export function slirpSteps(so: SlirpOptions, ports: PublishedPort[], runDir: string): Step[] {
  const args = ['--configure', `--mtu=${so.mtu}`, `--ready-fd=${READY_FD}`, `--exit-fd=${EXIT_FD}`];
  if (!so.allowHostLoopback) args.push('--disable-host-loopback');
  if (so.cidr) args.push(`--cidr=${so.cidr}`);
  if (so.enableIPv6) args.push('--enable-ipv6');
  if (so.outboundAddr) args.push(`--outbound-addr=${so.outboundAddr}`);
  if (so.outboundAddr6) args.push(`--outbound-addr6=${so.outboundAddr6}`);
  if (ports.length) args.push(`--api-socket=${API_SOCKET}`); // relative: the run dir is its cwd (sun_path is short)
  const pidPos = args.length;
  args.push('eth0'); // PID goes before the interface's name: slirp4netns [OPTION]… PID TAPNAME
  const steps = [step('pid_spawn', [SLIRP4NETNS, runDir, join(runDir, LOG_FILE), join(runDir, PID_FILE), pidPos, READY_FD, EXIT_FD, READY_TIMEOUT_MS, args.length, ...args],
    'start user-mode networking (slirp4netns)', SLIRP4NETNS)];
  const sock = join(runDir, API_SOCKET);
  for (const p of ports) {
    steps.push(step('unix_call', [sock, hostfwdRequest(p), '{"return"', CALL_TIMEOUT_MS],
      `publish ${p.hostIp || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.proto} through slirp4netns (is the host port free?)`, sock));
  }
  return steps;
}

/**
 * The wiring of a slirp4netns container. Host ports are chosen and recorded as rootful ones
 * (inspect, ps, port show them); an all-addresses port is recorded as 0.0.0.0, what slirp4netns binds.
 */
export async function slirpNetSteps(core: EngineCore, c: Container, o: RunOptions, op: string, runDir: string): Promise<{ parent: Step[]; child: Step[] }> {
  const so = parseSlirpMode(o.network ?? SLIRP_MODE, op);
  checkSlirp(op);
  for (const [key, list] of Object.entries(o.publish ?? {})) {
    for (const b of list) {
      if (b.HostIp && b.HostIp !== '0.0.0.0' && !isIPv4(b.HostIp)) throw bad(op, `-p ${b.HostIp ? `[${b.HostIp}]:` : ''}${b.HostPort}:${key}: slirp4netns forwards IPv4 host addresses only`);
      if (!key.endsWith('/tcp') && !key.endsWith('/udp')) throw bad(op, `-p ${key}: slirp4netns forwards tcp and udp only`);
    }
  }
  await reclaimStale(core, c.id, []);
  const ports = core.store.tx(() => {
    const nets = core.store.networks;
    nets.release(c.id);
    const got = allocatePorts(core, c, o, op).map((p) => ({ ...p, hostIp: p.hostIp || '0.0.0.0' }));
    nets.release(c.id);
    for (const p of got) nets.addPort(c.id, p);
    return got;
  });
  return { parent: slirpSteps(so, ports, runDir), child: [] };
}

/**
 * Stop the container's slirp4netns (teardown); its exit fd would stop it with the monitor anyway.
 * Only a slirp4netns process named in the container's pid file is signalled.
 */
export function stopSlirp(runDir: string): void {
  stopByPidFile(join(runDir, PID_FILE), SLIRP4NETNS);
}
