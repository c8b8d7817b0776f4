/**
 * `berth bench net`: the network schemes measured side by side on this machine, with the
 * helper's own load generator (`berth-helper netbench`, bind-mounted read-only into busybox
 * containers). For each scheme: 1- and 4-stream TCP throughput, 1-byte TCP request/response
 * latency, ICMP ping and the setup cost of `run -d` over `--network none`. Everything made here
 * (containers, networks, the macvlan parent's veth pair and namespace, host processes) is
 * removed at the end, also after an error or an abort. Run as an ordinary user (a rootless engine),
 * the schemes are the user's: host, none and ports published by pasta and by slirp4netns.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, networkInterfaces, release } from 'node:os';
import { BerthError, describeError } from '../lib/index.js';
import { helperPath } from '../sys/index.js';
import {
  createContainer, execInContainer, inspectContainer, reconcile, removeContainer, startContainer, type EngineCore,
} from './containers/index.js';
import { createNetwork, removeNetwork } from './networks/index.js';
import type { RunOptions } from './spec/index.js';
import { isRootless } from './rootless/paths.js';

export const BENCH_SCHEMES = ['host', 'none', 'bridge', 'user-bridge', 'container', 'macvlan', 'published-lo', 'published-host', 'bridge-c2c', 'published-pasta', 'published-slirp4netns'] as const;
export type BenchScheme = typeof BENCH_SCHEMES[number];
/** The user-mode schemes of a rootless engine (the bench run as an ordinary user); its default list. */
const ROOTLESS_ONLY: readonly BenchScheme[] = ['published-pasta', 'published-slirp4netns'];
const ROOTLESS_DEFAULT: readonly BenchScheme[] = ['host', 'none', ...ROOTLESS_ONLY];

/** What each scheme is and what it fits (one line each, printed under the table). */
export const SCHEME_INFO: Record<BenchScheme, { title: string; fits: string }> = {
  host: { title: '--network host (host → container on 127.0.0.1)', fits: 'the fastest path, no isolation: trusted host daemons, benchmarks, tools that must see the host\'s interfaces' },
  none: { title: '--network none (loopback inside the container)', fits: 'batch jobs and sandboxes with no network at all; the loopback ceiling of this machine' },
  bridge: { title: 'default bridge (host → container IP)', fits: 'the default: isolated containers with NAT out; reach them by published ports, not by name' },
  'user-bridge': { title: 'user bridge (host → container IP)', fits: 'apps of several containers: same path as the default bridge plus DNS by name and isolation per network' },
  container: { title: '--network container:X (shared namespace, 127.0.0.1)', fits: 'sidecars (proxies, log shippers) that talk to their app over loopback' },
  macvlan: { title: 'macvlan on a parent link (a peer on the segment → container)', fits: 'containers that must be first-class hosts on the LAN (own MAC/IP); the host itself cannot reach them through the parent' },
  'published-lo': { title: '-p published port via 127.0.0.1 (kernel DNAT)', fits: 'services used from the host itself (dev databases, local tools)' },
  'published-host': { title: '-p published port via the host\'s IP (kernel DNAT)', fits: 'services offered to other machines: the path other hosts take' },
  'bridge-c2c': { title: 'two containers on one user bridge', fits: 'app to database traffic inside one application network' },
  'published-pasta': { title: 'rootless: -p via 127.0.0.1, forwarded by pasta', fits: 'rootless services used from the host: pasta\'s own socket splicing, no root needed' },
  'published-slirp4netns': { title: 'rootless: -p via 127.0.0.1, forwarded by slirp4netns', fits: 'rootless where pasta is missing: a user-space TCP/IP stack between the host and the container' },
};

export interface LatencyStats { p50Us: number; p99Us: number; samples: number; lost?: number }

export interface SchemeResult {
  scheme: BenchScheme;
  title: string;
  fits: string;
  /** Gbit/s, 1 and 4 parallel streams */
  gbit1: number | null;
  gbit4: number | null;
  rr: LatencyStats | null;
  /** ICMP echo to the address the client talks to (null where ICMP does not take the same path) */
  ping: LatencyStats | null;
  /** median `run -d` of a container on this scheme minus that of `run -d --network none`, run in alternating pairs (ms) */
  setupMs: number | null;
  /** why the scheme was not (fully) measured */
  error?: string;
}

export interface BenchNetResult {
  version: 1;
  date: string;
  host: { kernel: string; cpus: number; loadavg: number[] };
  durationS: number;
  image: string;
  /** `run -d --network none` (ms, median): the baseline of setupMs */
  baselineSetupMs: number | null;
  schemes: SchemeResult[];
  crossCheck?: { tool: string; gbit1: number; netbench1: number };
}

export interface BenchNetOptions {
  /** seconds per throughput / latency measurement */
  duration?: number;
  schemes?: string[];
  image?: string;
  signal?: AbortSignal;
  progress?: (line: string) => void;
}

const PORT = 5201;
const NB = '/berth-netbench';
const OP = 'bench net';

type Place = { kind: 'host'; ns?: string } | { kind: 'container'; id: string };

interface Ctx {
  core: EngineCore;
  o: Required<Pick<BenchNetOptions, 'duration' | 'image'>> & BenchNetOptions;
  tag: string;
  containers: string[];
  networks: string[];
  netns: string[];
  links: string[];
  procs: ChildProcess[];
  servers: Map<string, { id: string; ip: string; hostPort?: number }>;
}

function aborted(c: Ctx): void {
  if (c.o.signal?.aborted) throw new BerthError({ kind: 'system', op: OP, message: `${OP}: interrupted` });
}

function sh(cmd: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 60_000 }, (e, out, err) => {
    if (e) reject(new BerthError({ kind: 'system', op: OP, message: `${OP}: ${cmd.join(' ')}: ${(err || e.message).trim()}` }));
    else resolve(out);
  }));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** The host's IPv4 address on the interface of its default route (else its first global one). */
export function hostAddress(): string | undefined {
  let dev: string | undefined;
  try {
    for (const l of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = l.trim().split(/\s+/);
      if (f[1] === '00000000' && f[7] === '00000000') { dev = f[0]; break; }
    }
  } catch { /* no /proc/net/route */ }
  const ifs = networkInterfaces();
  const v4 = (n: string) => (ifs[n] ?? []).find((a) => a.family === 'IPv4' && !a.internal)?.address;
  if (dev && v4(dev)) return v4(dev);
  for (const n of Object.keys(ifs)) if (!/^(berth|br-|docker|veth)/.test(n) && v4(n)) return v4(n);
  return undefined;
}

/** Run a netbench client (or anything) at a place; its stdout. */
async function runAt(c: Ctx, place: Place, args: string[], timeoutMs: number): Promise<string> {
  if (place.kind === 'container') {
    let out = '', err = '';
    const code = await execInContainer(c.core, place.id, {
      cmd: args, stdio: ['ignore', 'pipe', 'pipe'],
      onSpawn: (ch) => {
        ch.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
        ch.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
      },
    });
    if (code !== 0) throw new BerthError({ kind: 'system', op: OP, message: `${OP}: ${args.slice(1).join(' ')} in ${place.id.slice(0, 12)}: exit ${code}: ${err.trim()}` });
    return out;
  }
  const argv = place.ns ? ['nsenter', `--net=${place.ns}`, '--', ...args] : args;
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs }, (e, out, err) => {
      if (e) reject(new BerthError({ kind: 'system', op: OP, message: `${OP}: ${args.slice(1).join(' ')}: ${(err || e.message).trim()}` }));
      else resolve(out);
    });
  });
}

async function netbench(c: Ctx, place: Place, args: string[]): Promise<Record<string, number>> {
  aborted(c);
  const bin = place.kind === 'container' ? NB : helperPath();
  const out = await runAt(c, place, [bin, 'netbench', ...args], c.o.duration * 1000 + 30_000);
  try {
    return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
  } catch {
    throw new BerthError({ kind: 'system', op: OP, message: `${OP}: netbench ${args[0]}: unexpected output ${JSON.stringify(out.slice(0, 200))}` });
  }
}

async function runDetached(c: Ctx, opts: RunOptions, cmd: string[]): Promise<{ id: string; ms: number }> {
  aborted(c);
  const t0 = process.hrtime.bigint();
  const rec = await createContainer(c.core, {
    image: c.o.image, pull: 'never',
    options: {
      ...opts, entrypoint: [], cmd,
      mounts: [{ type: 'bind', source: helperPath(), target: NB, readonly: true }],
    },
  });
  c.containers.push(rec.id);
  await startContainer(c.core, rec.id);
  return { id: rec.id, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

function ipOf(c: Ctx, id: string): string {
  const j = inspectContainer(c.core, reconcile(c.core, c.core.store.containers.get(id))) as { NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> } };
  const ip = Object.values(j.NetworkSettings?.Networks ?? {}).map((n) => n.IPAddress).find(Boolean);
  if (!ip) throw new BerthError({ kind: 'system', op: OP, message: `${OP}: container ${id.slice(0, 12)} has no IPv4 address` });
  return ip;
}

async function remove(c: Ctx, id: string): Promise<void> {
  await removeContainer(c.core, id, { force: true, volumes: true });
  c.containers.splice(c.containers.indexOf(id), 1);
}

/** The networks the schemes need, made once. */
async function userNet(c: Ctx): Promise<string> {
  const name = `berth-bench-${c.tag}`;
  if (!c.networks.includes(name)) {
    await createNetwork(c.core, { name, driver: 'bridge' });
    c.networks.push(name);
  }
  return name;
}

/** A macvlan network on a veth parent whose peer sits in a throwaway namespace (the "LAN"). */
async function macvlanNet(c: Ctx): Promise<{ name: string; peer: Place }> {
  const name = `berth-bench-mv-${c.tag}`;
  const ns = `berth-bench-${c.tag}`;
  const parent = `bbm${c.tag}`;
  if (!c.networks.includes(name)) {
    const x = 1 + (parseInt(c.tag, 16) % 254);
    await sh(['ip', 'netns', 'add', ns]);
    c.netns.push(ns);
    await sh(['ip', 'link', 'add', parent, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    c.links.push(parent);
    await sh(['ip', 'link', 'set', parent, 'up']);
    for (const a of [['link', 'set', 'lo', 'up'], ['addr', 'add', `198.18.${x}.2/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up']]) await sh(['ip', '-n', ns, ...a]);
    // 198.18.0.0/15: the range RFC 2544 sets aside for benchmarks
    await createNetwork(c.core, { name, driver: 'macvlan', subnets: [`198.18.${x}.0/24`], ipRanges: [`198.18.${x}.128/25`], options: { parent } });
    c.networks.push(name);
  }
  return { name, peer: { kind: 'host', ns: `/run/netns/${ns}` } };
}

async function server(c: Ctx, key: string, opts: RunOptions, hostPort?: number, port = PORT): Promise<{ id: string; ip: string; hostPort?: number }> {
  let s = c.servers.get(key);
  if (!s) {
    const { id } = await runDetached(c, opts, [NB, 'netbench', 'server', String(port)]);
    const local = opts.network === 'host' || opts.network === 'none' || opts.network === 'pasta' || opts.network === 'slirp4netns';
    s = { id, ip: local ? '127.0.0.1' : ipOf(c, id), hostPort };
    c.servers.set(key, s);
  }
  return s;
}

async function bridgeServer(c: Ctx) {
  const hostPort = await freePort();
  return server(c, 'bridge', { network: 'bridge', publish: { [`${PORT}/tcp`]: [{ HostIp: '', HostPort: String(hostPort) }] } }, hostPort);
}

async function clientContainer(c: Ctx, key: string, opts: RunOptions): Promise<Place> {
  const s = await server(c, key, opts); // a container of its own running a server too (unused)
  return { kind: 'container', id: s.id };
}

interface Plan { client: Place; addr: string; port: number; pingAddr: string | null; setup: RunOptions }

async function plan(c: Ctx, scheme: BenchScheme): Promise<Plan> {
  const host: Place = { kind: 'host' };
  switch (scheme) {
    case 'host': {
      // in the host's namespace: a port that is free there
      const port = c.servers.get('host')?.hostPort ?? await freePort();
      await server(c, 'host', { network: 'host' }, port, port);
      // (an ordinary user has no ICMP socket: ping_group_range)
      return { client: host, addr: '127.0.0.1', port, pingAddr: isRootless() ? null : '127.0.0.1', setup: { network: 'host' } };
    }
    case 'none': {
      const s = await server(c, 'none', { network: 'none' });
      return { client: { kind: 'container', id: s.id }, addr: '127.0.0.1', port: PORT, pingAddr: '127.0.0.1', setup: { network: 'none' } };
    }
    case 'bridge': {
      const s = await bridgeServer(c);
      return { client: host, addr: s.ip, port: PORT, pingAddr: s.ip, setup: { network: 'bridge' } };
    }
    case 'user-bridge': {
      const net = await userNet(c);
      const s = await server(c, 'user', { network: net });
      return { client: host, addr: s.ip, port: PORT, pingAddr: s.ip, setup: { network: net } };
    }
    case 'container': {
      const s = await bridgeServer(c);
      const client = await clientContainerShared(c, s.id);
      return { client, addr: '127.0.0.1', port: PORT, pingAddr: null, setup: { network: `container:${s.id}` } };
    }
    case 'macvlan': {
      const { name, peer } = await macvlanNet(c);
      const s = await server(c, 'macvlan', { network: name });
      return { client: peer, addr: s.ip, port: PORT, pingAddr: s.ip, setup: { network: name } };
    }
    case 'published-lo': {
      const s = await bridgeServer(c);
      return { client: host, addr: '127.0.0.1', port: s.hostPort!, pingAddr: null, setup: { network: 'bridge', publish: { [`${PORT}/tcp`]: [{ HostIp: '', HostPort: '' }] } } };
    }
    case 'published-host': {
      const ip = hostAddress();
      if (!ip) throw new BerthError({ kind: 'system', op: OP, message: `${OP}: the host has no IPv4 address outside loopback` });
      const s = await bridgeServer(c);
      return { client: host, addr: ip, port: s.hostPort!, pingAddr: null, setup: { network: 'bridge', publish: { [`${PORT}/tcp`]: [{ HostIp: '', HostPort: '' }] } } };
    }
    case 'published-pasta':
    case 'published-slirp4netns': {
      if (!isRootless()) throw new BerthError({ kind: 'usage', op: OP, message: `${OP}: ${scheme}: user-mode networking is a rootless engine's: run berth bench net as an ordinary user` });
      const network = scheme === 'published-pasta' ? 'pasta' : 'slirp4netns';
      const hostPort = c.servers.get(scheme)?.hostPort ?? await freePort();
      const publish = { [`${PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] };
      const srv = await server(c, scheme, { network, publish }, hostPort);
      await listening(c, srv.id, PORT); // the forwarder accepts (then resets) before the server listens
      return { client: host, addr: '127.0.0.1', port: hostPort, pingAddr: null, setup: { network, publish: { [`${PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] } } };
    }
    case 'bridge-c2c': {
      const net = await userNet(c);
      const s = await server(c, 'user', { network: net });
      const client = await clientContainer(c, 'user-client', { network: net });
      return { client, addr: s.ip, port: PORT, pingAddr: s.ip, setup: { network: net } };
    }
  }
}

/** Wait (5 s at most) until the container's server listens on TCP port (its /proc/PID/net/tcp). */
async function listening(c: Ctx, id: string, port: number): Promise<void> {
  const pid = c.core.store.containers.get(id).state.pid;
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (let i = 0; i < 100; i++) {
    aborted(c);
    try {
      if (readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').some((l) => l.includes(hex) && l.split(/\s+/)[4] === '0A')) return;
    } catch { /* not yet, or gone: the measurement says */ }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function clientContainerShared(c: Ctx, serverId: string): Promise<Place> {
  let s = c.servers.get('shared');
  if (!s) {
    const { id } = await runDetached(c, { network: `container:${serverId}` }, ['sleep', '3600']);
    s = { id, ip: '127.0.0.1' };
    c.servers.set('shared', s);
  }
  return { kind: 'container', id: s.id };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** median `run -d` on the scheme minus median `run -d --network none`, measured in pairs (ms): robust to load drift. */
async function setupCost(c: Ctx, opts: RunOptions, reps: number, baselines: number[]): Promise<number> {
  const on: number[] = [], none: number[] = [];
  const once = async (o: RunOptions) => {
    const r = await runDetached(c, o, ['sleep', '3600']);
    await remove(c, r.id);
    return r.ms;
  };
  for (let i = 0; i < reps; i++) {
    // the order alternates: whichever runs first in a pair pays more (the previous removal's
    // tail), so a fixed order would bias every difference
    const [a, b] = i % 2 ? [await once(opts), await once({ network: 'none' })].reverse() : [await once({ network: 'none' }), await once(opts)];
    baselines.push(a!);
    none.push(a!);
    on.push(b!);
  }
  // medians of each side (a median of alternating-sign differences would pick one side's sign)
  return median(on) - median(none);
}

const lat = (j: Record<string, number>): LatencyStats => ({ p50Us: j.p50_us!, p99Us: j.p99_us!, samples: j.samples!, ...(j.lost ? { lost: j.lost } : {}) });
const gbit = (j: Record<string, number>) => Math.round(j.bits_per_second! / 1e7) / 100;

async function measure(c: Ctx, scheme: BenchScheme, baselines: number[], reps: number): Promise<SchemeResult> {
  const info = SCHEME_INFO[scheme];
  const r: SchemeResult = { scheme, ...info, gbit1: null, gbit4: null, rr: null, ping: null, setupMs: null };
  try {
    const p = await plan(c, scheme);
    const d = String(c.o.duration);
    c.o.progress?.(`${scheme}: ${p.addr}:${p.port}`);
    r.gbit1 = gbit(await netbench(c, p.client, ['stream', p.addr, String(p.port), '1', d]));
    r.gbit4 = gbit(await netbench(c, p.client, ['stream', p.addr, String(p.port), '4', d]));
    r.rr = lat(await netbench(c, p.client, ['rr', p.addr, String(p.port), d]));
    if (p.pingAddr) r.ping = lat(await netbench(c, p.client, ['ping', p.pingAddr, String(Math.min(c.o.duration, 1))]));
    r.setupMs = Math.round(await setupCost(c, p.setup, reps, baselines) * 10) / 10;
  } catch (e) {
    if (c.o.signal?.aborted) throw e;
    r.error = describeError(e);
    c.o.progress?.(`${scheme}: ${r.error}`);
  }
  return r;
}

/** iperf3 on the host's loopback next to netbench on the same path, when iperf3 is installed. */
async function crossCheck(c: Ctx): Promise<BenchNetResult['crossCheck']> {
  const iperf = ['/usr/bin/iperf3', '/usr/local/bin/iperf3'].find(existsSync);
  if (!iperf) return undefined;
  const port = await freePort();
  const srv = spawn(iperf, ['-s', '-1', '-p', String(port)], { stdio: 'ignore' });
  c.procs.push(srv);
  await new Promise((r) => setTimeout(r, 300));
  const j = JSON.parse(await runAt(c, { kind: 'host' }, [iperf, '-c', '127.0.0.1', '-p', String(port), '-t', String(Math.max(1, Math.round(c.o.duration))), '-J'], 60_000)) as { end: { sum_received: { bits_per_second: number } } };
  const nport = await freePort();
  const nsrv = spawn(helperPath(), ['netbench', 'server', String(nport)], { stdio: 'ignore' });
  c.procs.push(nsrv);
  const n = await netbench(c, { kind: 'host' }, ['stream', '127.0.0.1', String(nport), '1', String(c.o.duration)]);
  return { tool: 'iperf3 (host loopback, 1 stream)', gbit1: Math.round(j.end.sum_received.bits_per_second / 1e7) / 100, netbench1: gbit(n) };
}

async function cleanup(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  const note = async (what: string, f: () => Promise<unknown>) => { try { await f(); } catch (e) { problems.push(`${what}: ${describeError(e)}`); } };
  for (const p of c.procs) if (p.exitCode === null) p.kill('SIGKILL');
  // the containers that share a namespace go before the one that owns it
  for (const id of [...c.containers].reverse()) await note(`rm ${id.slice(0, 12)}`, () => removeContainer(c.core, id, { force: true, volumes: true }));
  for (const n of [...c.networks].reverse()) await note(`network rm ${n}`, () => removeNetwork(c.core, n));
  for (const l of c.links) await note(`ip link del ${l}`, () => sh(['ip', 'link', 'del', l]).catch((e) => { if (existsSync(`/sys/class/net/${l}`)) throw e; }));
  for (const n of c.netns) await note(`ip netns del ${n}`, () => sh(['ip', 'netns', 'del', n]));
  return problems;
}

/** Measure the schemes; throws after cleaning up when interrupted. */
export async function benchNet(core: EngineCore, o: BenchNetOptions = {}): Promise<{ result: BenchNetResult; cleanupProblems: string[] }> {
  const schemes = (o.schemes?.length ? o.schemes : isRootless() ? [...ROOTLESS_DEFAULT] : BENCH_SCHEMES.filter((s) => !ROOTLESS_ONLY.includes(s))) as BenchScheme[];
  for (const s of schemes) {
    if (!(BENCH_SCHEMES as readonly string[]).includes(s)) throw new BerthError({ kind: 'usage', op: OP, message: `${OP}: unknown scheme "${s}" (one of ${BENCH_SCHEMES.join(', ')})` });
  }
  const duration = o.duration ?? 3;
  if (!(duration > 0 && duration <= 600)) throw new BerthError({ kind: 'usage', op: OP, message: `${OP}: invalid duration ${o.duration} (seconds, > 0)` });
  const c: Ctx = {
    core, o: { ...o, duration, image: o.image ?? 'busybox' }, tag: randomBytes(3).toString('hex'),
    containers: [], networks: [], netns: [], links: [], procs: [], servers: new Map(),
  };
  const result: BenchNetResult = {
    version: 1, date: new Date().toISOString(), host: { kernel: release(), cpus: cpus().length, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) },
    durationS: duration, image: c.o.image, baselineSetupMs: null, schemes: [],
  };
  let problems: string[] = [];
  try {
    const reps = Math.max(1, Math.min(6, 2 * Math.round(duration)));
    const baselines: number[] = [];
    try {
      await setupCost(c, { network: 'none' }, 1, []); // warm, and the image is there
    } catch (e) {
      if (o.signal?.aborted) throw e;
      throw new BerthError({ kind: 'system', op: OP, message: `${OP}: run -d --network none ${c.o.image}: ${describeError(e)}`, cause: e });
    }
    for (const s of schemes) result.schemes.push(await measure(c, s, baselines, reps));
    if (baselines.length) result.baselineSetupMs = Math.round(median(baselines) * 10) / 10;
    try { result.crossCheck = await crossCheck(c); } catch (e) { if (o.signal?.aborted) throw e; o.progress?.(`iperf3 cross-check: ${describeError(e)}`); }
  } finally {
    problems = await cleanup(c);
  }
  return { result, cleanupProblems: problems };
}
