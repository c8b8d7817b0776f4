/**
 * berth's network goals (issue 13), side by side in one run, as ratios — never timed tests:
 *   a. bridge throughput vs a bare veth pair between two namespaces        goal >= 0.95x
 *   b. published port on 127.0.0.1 vs dockerd 20.10 --userland-proxy=false  goal tput >= 0.95x, RR <= 1.1x
 *      (and vs Docker's default userland proxy)
 *   c. `run --rm busybox true` on the default bridge vs docker               goal <= 0.4x
 *   d. 100 published ports: extra monitor PSS and extra `run -d` time        goal < 1 MiB, < 50 ms
 *      (and what docker's proxy processes cost)
 *   e. 200 containers on one user bridge, every name resolved from one of them
 * Everything runs in a throwaway "host" network namespace (berth, its bridges and nftables table,
 * dockerd and its iptables rules, the veth pair), deleted at the end: the machine's own network and
 * firewall are never touched. dockerd runs on its own socket, data and exec roots.
 * Run as root after `npm run build`:  node build/bench/net.js   (BENCH_NET_DURATION=3 s per
 * measurement, BENCH_NET_ROUNDS=3 alternating rounds, BENCH_NET_N=10 runs of (c), BENCH_NET_MANY=200)
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/probe.js';
import { busyboxRootfs, haveBusybox } from '../test/helpers/rootfs.js';
import { BENCH_SCHEMES, type BenchNetResult, type SchemeResult } from '../src/engine/index.js';
import { setupPodman, type Engine as Peer } from './engine-peers.js';
import { comm, killLeftovers, memOf, pidsAlive, ppid, removeCgroupsCreated, unmountUnder } from './engine-proc.js';

const D = Number(process.env.BENCH_NET_DURATION ?? 3);
const ROUNDS = Number(process.env.BENCH_NET_ROUNDS ?? 3);
const N = Number(process.env.BENCH_NET_N ?? 10);
const MANY = Number(process.env.BENCH_NET_MANY ?? 200);
const PORT = 5201;

const repo = repoRoot();
const FRONT = join(repo, 'dist', 'berth');
const HELPER = join(repo, 'native', 'build', 'berth-helper');
const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const tag = randomBytes(3).toString('hex');
const NS = `berth-bn-${tag}`, OUT = `berth-bo-${tag}`, VA = `berth-bva-${tag}`, VB = `berth-bvb-${tag}`;
const nsPath = (n: string) => `/run/netns/${n}`;
const log = (s: string) => process.stderr.write(`[net bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
let interrupted = false;

function sh(cmd: string[], o: { env?: NodeJS.ProcessEnv; input?: string; allowFail?: boolean } = {}): { ms: number; status: number | null; out: string; err: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { env: o.env ?? process.env, encoding: 'utf8', input: o.input, maxBuffer: 1 << 26, timeout: 600_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!o.allowFail && r.status !== 0) throw new Error(`${cmd.join(' ')}: exit ${r.status}${r.error ? ` ${r.error.message}` : ''}: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  return { ms, status: r.status, out: r.stdout, err: r.stderr };
}
const inNs = (cmd: string[], ns = NS) => ['nsenter', `--net=${nsPath(ns)}`, '--', ...cmd];

/** netbench client (host side, in a namespace): its JSON line. */
function nb(ns: string, args: string[]): Record<string, number> {
  return JSON.parse(sh(inNs([HELPER, 'netbench', ...args], ns)).out.trim()) as Record<string, number>;
}
interface Path { gbit1: number; gbit4: number; rrP50: number; rrP99: number }
function measurePath(ns: string, addr: string, port: number): Path {
  const s1 = nb(ns, ['stream', addr, String(port), '1', String(D)]);
  const s4 = nb(ns, ['stream', addr, String(port), '4', String(D)]);
  const rr = nb(ns, ['rr', addr, String(port), String(D)]);
  return { gbit1: round(s1.bits_per_second! / 1e9), gbit4: round(s4.bits_per_second! / 1e9), rrP50: rr.p50_us!, rrP99: rr.p99_us! };
}
const medianPath = (v: Path[]): Path => ({ gbit1: median(v.map((x) => x.gbit1)), gbit4: median(v.map((x) => x.gbit4)), rrP50: median(v.map((x) => x.rrP50)), rrP99: median(v.map((x) => x.rrP99)) });

// ---- berth on private roots, inside NS ----
const work = mkdtempSync('/tmp/bench-net-');
const berthRun = mkdtempSync('/tmp/bnr-');
const berthEnv: NodeJS.ProcessEnv = { ...process.env, BERTH_ROOT: join(work, 'berth'), BERTH_RUN_ROOT: berthRun, BERTH_NO_WORKER: '1', BERTH_RESOLV_CONF: join(work, 'resolv.conf') };
delete berthEnv.BERTH_CONFIG;
const berth = (args: string[], allowFail = false) => sh(inNs([FRONT, ...args]), { env: berthEnv, allowFail });

/** The berth monitor of a container: up from its init until the process named berth-monitor. */
function monitorPid(initPid: number): number {
  for (let p: number | undefined = initPid; p && p > 1; p = ppid(p)) if (comm(p) === 'berth-monitor') return p;
  throw new Error(`no berth-monitor above pid ${initPid}`);
}
const pssKiB = (pid: number) => memOf(pid).pssKiB ?? memOf(pid).rssKiB;

// ---- dockerd on its own roots, inside NS ----
interface Dockerd { proc: ChildProcess; sock: string; dir: string; cgroup: string; proxy: boolean }
let dockerd: Dockerd | undefined;
const docker = (d: Dockerd, args: string[], allowFail = false) => sh([DOCKER, '-H', `unix://${d.sock}`, ...args], { env: { ...process.env, DOCKER_CONFIG: join(d.dir, 'cli') }, allowFail });

async function startDockerd(proxy: boolean): Promise<Dockerd> {
  const dir = mkdtempSync('/tmp/bd-');
  mkdirSync(join(dir, 'cli'));
  const sock = join(dir, 'd.sock');
  const cgroup = `bench-net-${process.pid}`;
  const fd = openSync(join(dir, 'dockerd.log'), 'w');
  const proc = spawn('nsenter', inNs(['/usr/sbin/dockerd', '--data-root', join(dir, 'root'), '--exec-root', join(dir, 'x'), '-H', `unix://${sock}`,
    '--pidfile', join(dir, 'd.pid'), '--bip', '10.99.0.1/24', `--userland-proxy=${proxy}`, '--containerd-namespace', `bench-net-${process.pid}`,
    '--cgroup-parent', `/${cgroup}`]).slice(0), { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const d: Dockerd = { proc, sock, dir, cgroup, proxy };
  dockerd = d;
  for (let end = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
    if (proc.exitCode !== null) throw new Error(`dockerd exited: ${readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-1500)}`);
    if (existsSync(sock) && docker(d, ['version'], true).status === 0) break;
    if (Date.now() > end) throw new Error('dockerd: not ready in 60 s');
  }
  // the same image as berth's: berth save | docker load
  sh(['sh', '-c', `nsenter --net=${nsPath(NS)} -- ${FRONT} save busybox:latest | ${DOCKER} -H unix://${sock} load`], { env: { ...berthEnv, DOCKER_CONFIG: join(dir, 'cli') } });
  return d;
}

async function stopDockerd(report: string[]): Promise<void> {
  const d = dockerd;
  if (!d) return;
  dockerd = undefined;
  const ids = docker(d, ['ps', '-aq'], true).out.split('\n').filter(Boolean);
  if (ids.length) docker(d, ['rm', '-f', ...ids], true);
  if (d.proc.exitCode === null) {
    d.proc.kill('SIGTERM');
    const gone = await Promise.race([new Promise((r) => d.proc.once('exit', () => r(true))), new Promise((r) => setTimeout(() => r(false), 20000))]);
    if (!gone) { report.push('dockerd did not stop in 20 s: SIGKILL'); d.proc.kill('SIGKILL'); }
  }
  report.push(...(await killLeftovers(new Set(ids), [d.dir], ['containerd-shim'])));
  report.push(...unmountUnder([d.dir]));
  rmSync(d.dir, { recursive: true, force: true });
  removeCgroupsCreated([d.cgroup], new Set());
  // its iptables rules live in NS, deleted with it at the end
}

function dockerServer(d: Dockerd, hostPort: number): string {
  return docker(d, ['run', '-d', '-p', `${hostPort}:${PORT}`, '-v', `${HELPER}:/nb:ro`, '--entrypoint', '/nb', 'busybox', 'netbench', 'server', String(PORT)]).out.trim();
}

// ---- the parts ----
function bareVeth(): Path {
  for (const n of [VA, VB]) { sh(['ip', 'netns', 'add', n]); sh(['ip', '-n', n, 'link', 'set', 'lo', 'up']); }
  sh(['ip', '-n', VA, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', VB]);
  sh(['ip', '-n', VA, 'addr', 'add', '10.233.0.1/24', 'dev', 'eth0']);
  sh(['ip', '-n', VB, 'addr', 'add', '10.233.0.2/24', 'dev', 'eth0']);
  for (const n of [VA, VB]) sh(['ip', '-n', n, 'link', 'set', 'eth0', 'up']);
  const srv = spawn('nsenter', inNs([HELPER, 'netbench', 'server', String(PORT)], VB), { stdio: 'ignore' });
  try { return measurePath(VA, '10.233.0.2', PORT); } finally { srv.kill('SIGKILL'); }
}

function berthBench(schemes: string, strict = true): { raw: BenchNetResult; by: Record<string, SchemeResult> } {
  const file = join(work, `bn-${Date.now()}.json`);
  const r = berth(['bench', 'net', '--duration', String(D), '--schemes', schemes, '--json', file], true);
  if (!existsSync(file)) throw new Error(`berth bench net: exit ${r.status}: ${r.err.trim()}`);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as BenchNetResult;
  for (const s of raw.schemes) if (s.error && strict) throw new Error(`berth bench net: ${s.scheme}: ${s.error}`);
  return { raw, by: Object.fromEntries(raw.schemes.map((s) => [s.scheme, s])) };
}
const berthPath = (s: SchemeResult): Path => ({ gbit1: s.gbit1!, gbit4: s.gbit4!, rrP50: s.rr!.p50Us, rrP99: s.rr!.p99Us });

let podman: Peer | undefined;
function runRm(nameOf: 'berth' | 'docker' | 'podman', d?: Dockerd): number {
  const args = ['run', '--rm', 'busybox', 'true'];
  const r = nameOf === 'berth' ? berth(args, true) : nameOf === 'docker' ? docker(d!, args, true) : sh(inNs(podman!.argv(args)), { env: podman!.env, allowFail: true });
  if (r.status !== 0) throw new Error(`${nameOf} run --rm busybox true: exit ${r.status}: ${r.err.trim()}`); // a failing peer looks fast
  return r.ms;
}

function ports100Berth(): Record<string, number> {
  const runD = (extra: string[]) => {
    const r = berth(['run', '-d', ...extra, 'busybox', 'sleep', '3600']);
    const id = r.out.trim();
    const pid = Number(berth(['inspect', '-f', '{{.State.Pid}}', id]).out.trim());
    return { ms: r.ms, id, pid };
  };
  const none: number[] = [], bridge: number[] = [], ports: number[] = [], pssBridge: number[] = [], pssPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const a = runD(['--network', 'none']); none.push(a.ms);
    const b = runD([]); bridge.push(b.ms); pssBridge.push(pssKiB(monitorPid(b.pid)));
    const c = runD(['-p', '30000-30099:30000-30099']); ports.push(c.ms); pssPorts.push(pssKiB(monitorPid(c.pid)));
    berth(['rm', '-f', a.id, b.id, c.id]);
  }
  return {
    runDNoneMs: round(median(none), 1), runDBridgeMs: round(median(bridge), 1), runD100PortsMs: round(median(ports), 1),
    extraRunDMs: round(median(ports) - median(bridge), 1), monitorPssNoPortsKiB: median(pssBridge), monitorPss100PortsKiB: median(pssPorts),
    extraPssKiB: median(pssPorts) - median(pssBridge),
  };
}

function ports100Docker(d: Dockerd): Record<string, number> {
  const proxies = () => pidsAlive().filter((p) => comm(p) === 'docker-proxy' && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('10.99.0.'));
  const before = proxies().length;
  const a = docker(d, ['run', '-d', 'busybox', 'sleep', '3600']);
  const b = docker(d, ['run', '-d', '-p', '30000-30099:30000-30099', 'busybox', 'sleep', '3600']);
  const ps = proxies();
  const kib = ps.reduce((s, p) => s + pssKiB(p), 0);
  docker(d, ['rm', '-f', a.out.trim(), b.out.trim()]);
  return { runDBridgeMs: round(a.ms, 1), runD100PortsMs: round(b.ms, 1), extraRunDMs: round(b.ms - a.ms, 1), proxyProcesses: ps.length - before, proxyPssKiB: kib };
}

function manyByName(): Record<string, unknown> {
  berth(['network', 'create', 'bench-many']);
  const t0 = Date.now();
  for (let i = 0; i < MANY; i++) {
    if (interrupted) throw new Error('interrupted');
    berth(['run', '-d', '--name', `n${i}`, '--network', 'bench-many', 'busybox', 'sleep', '3600']);
  }
  const startAllS = (Date.now() - t0) / 1000;
  const script = `ok=0; for i in $(seq 0 ${MANY - 1}); do ip=$(nslookup n$i 127.0.0.11 2>/dev/null | awk '/^Name:/{f=1} f&&/^Address/{print $NF; exit}'); if [ -n "$ip" ] && ping -c1 -W2 $ip >/dev/null 2>&1; then ok=$((ok+1)); else echo "FAIL n$i $ip"; fi; done; echo "ok $ok"`;
  const r = berth(['exec', `n${MANY - 1}`, 'sh', '-c', script], true);
  const ok = Number(/ok (\d+)/.exec(r.out)?.[1] ?? -1);
  const failures = r.out.split('\n').filter((l) => l.startsWith('FAIL'));
  const ids = berth(['ps', '-aq']).out.split('\n').filter(Boolean);
  for (let i = 0; i < ids.length; i += 50) berth(['rm', '-f', ...ids.slice(i, i + 50)]);
  berth(['network', 'rm', 'bench-many']);
  return { containers: MANY, startAllS: round(startAllS, 1), resolvedAndPinged: ok, failures: failures.slice(0, 10) };
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  if (!haveBusybox()) throw new Error('needs a static /bin/busybox (busybox-static)');
  for (const f of [FRONT, HELPER]) if (!existsSync(f)) throw new Error(`${f} missing: npm run build`);
  const res: Record<string, any> = {
    date: new Date().toISOString(), host: { kernel: release(), cpus: Number(sh(['nproc']).out.trim()), loadavgStart: loadavg().map((x) => round(x)) },
    params: { durationS: D, rounds: ROUNDS, n: N, many: MANY }, versions: {}, ratios: {}, notes: [],
  };
  const cleanup: string[] = [];
  let code = 0;
  try {
    for (const n of [NS, OUT]) { sh(['ip', 'netns', 'add', n]); sh(['ip', '-n', n, 'link', 'set', 'lo', 'up']); }
    sh(['ip', '-n', NS, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', OUT]);
    sh(['ip', '-n', NS, 'addr', 'add', '10.232.0.1/24', 'dev', 'uplink']);
    sh(['ip', '-n', OUT, 'addr', 'add', '10.232.0.2/24', 'dev', 'eth0']);
    sh(['ip', '-n', NS, 'link', 'set', 'uplink', 'up']);
    sh(['ip', '-n', OUT, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', NS, 'route', 'add', 'default', 'via', '10.232.0.2']);
    writeFileSync(join(work, 'resolv.conf'), 'nameserver 10.232.0.2\n');
    const fs = busyboxRootfs(join(work, 'rootfs'));
    const tar = join(work, 'busybox.tar');
    execFileSync('tar', ['--numeric-owner', '-C', fs, '-cf', tar, '.']);
    berth(['import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
    res.versions.berth = berth(['--version']).out.trim();

    log('berth bench net: all schemes');
    res.berthBenchNet = berthBench(BENCH_SCHEMES.join(','), false).raw;

    log(`dockerd --userland-proxy=false; ${ROUNDS} rounds of: berth bridge + published-lo, docker published 127.0.0.1, bare veth`);
    let d = await startDockerd(false);
    res.versions.docker = docker(d, ['version', '-f', '{{.Server.Version}}']).out.trim();
    dockerServer(d, 40001);
    const rb: Path[] = [], rp: Path[] = [], rv: Path[] = [], rdn: Path[] = [];
    const setupB: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const b = berthBench('bridge,published-lo').by;
      rb.push(berthPath(b.bridge!)); rp.push(berthPath(b['published-lo']!)); setupB.push(b.bridge!.setupMs!);
      rdn.push(measurePath(NS, '127.0.0.1', 40001));
      rv.push(bareVeth());
      for (const n of [VA, VB]) sh(['ip', 'netns', 'del', n]);
    }
    const bridge = medianPath(rb), pub = medianPath(rp), veth = medianPath(rv), dnat = medianPath(rdn);
    Object.assign(res, { bridge, bareVeth: veth, publishedLo: pub, dockerNatLo: dnat, berthBridgeSetupMs: median(setupB) });
    res.ratios.bridgeVsVeth = { x1: round(bridge.gbit1 / veth.gbit1), x4: round(bridge.gbit4 / veth.gbit4), goal: '>= 0.95' };
    res.ratios.publishedLoVsDockerNat = { x1: round(pub.gbit1 / dnat.gbit1), x4: round(pub.gbit4 / dnat.gbit4), rrP50: round(pub.rrP50 / dnat.rrP50), rrP99: round(pub.rrP99 / dnat.rrP99), goal: 'tput >= 0.95, rr <= 1.1' };

    log(`run --rm busybox true on the default bridge: ${N} interleaved`);
    if (existsSync('/usr/bin/podman')) {
      try {
        podman = await setupPodman(work, tar, (e) => { podman = e; });
        res.versions.podman = podman.version;
        res.notes.push(...podman.notes);
        runRm('podman');
      } catch (e) {
        res.notes.push(`podman: not measured: ${(e as Error).message}`);
        if (podman) cleanup.push(...(await podman.stop()));
        podman = undefined;
      }
    } else res.notes.push('podman: not installed: not measured');
    const tb: number[] = [], td: number[] = [], tp: number[] = [];
    runRm('berth'); runRm('docker', d); // warm
    for (let i = 0; i < N; i++) { tb.push(runRm('berth')); td.push(runRm('docker', d)); if (podman) tp.push(runRm('podman')); }
    res.runRm = { berthMs: round(median(tb), 1), dockerMs: round(median(td), 1), ...(podman ? { podmanMs: round(median(tp), 1) } : {}) };
    res.ratios.runRmVsDocker = { ratio: round(median(tb) / median(td)), goal: '<= 0.4' };
    if (podman) res.ratios.runRmVsPodman = { ratio: round(median(tb) / median(tp)) };
    res.notes.push('run --rm: berth is the native front dist/berth running Node for each command (BERTH_NO_WORKER=1); docker: dockerd 20.10 already running; podman: its default network (netavark), in the same namespace; each exit status checked');

    await stopDockerd(cleanup);
    log('dockerd (default: userland proxy)');
    d = await startDockerd(true);
    dockerServer(d, 40002);
    const rdp: Path[] = [];
    for (let i = 0; i < ROUNDS; i++) rdp.push(measurePath(NS, '127.0.0.1', 40002));
    res.dockerProxyLo = medianPath(rdp);
    res.ratios.publishedLoVsDockerProxy = { x1: round(pub.gbit1 / res.dockerProxyLo.gbit1), x4: round(pub.gbit4 / res.dockerProxyLo.gbit4), rrP50: round(pub.rrP50 / res.dockerProxyLo.rrP50) };

    log('100 published ports');
    res.ports100 = { berth: ports100Berth(), docker: ports100Docker(d) };
    res.ratios.ports100 = { extraPssKiB: res.ports100.berth.extraPssKiB, extraRunDMs: res.ports100.berth.extraRunDMs, goal: '< 1024 KiB, < 50 ms' };
    await stopDockerd(cleanup);

    log(`${MANY} containers on one user bridge, all by name`);
    res.many = manyByName();
    res.ratios.manyByName = { resolved: `${res.many.resolvedAndPinged}/${MANY}` };
  } catch (err) {
    res.error = (err as Error).message;
    console.error(`net bench: ${(err as Error).stack ?? err}`);
    code = 1;
  } finally {
    await stopDockerd(cleanup).catch((e) => cleanup.push(String(e)));
    if (podman) cleanup.push(...(await podman.stop().catch((e) => [String(e)])));
    const ids = berth(['ps', '-aq'], true).out.split('\n').filter(Boolean);
    if (ids.length) berth(['rm', '-f', ...ids], true);
    cleanup.push(...(await killLeftovers(new Set(ids), [work, berthRun], ['berth-monitor'])));
    cleanup.push(...unmountUnder([berthRun, work]));
    for (const n of [NS, OUT, VA, VB]) if (existsSync(nsPath(n))) sh(['ip', 'netns', 'del', n], { allowFail: true });
    rmSync(work, { recursive: true, force: true });
    rmSync(berthRun, { recursive: true, force: true });
  }
  res.host.loadavgEnd = loadavg().map((x) => round(x));
  if (cleanup.length) res.cleanup = cleanup;
  console.log(JSON.stringify({ ratios: res.ratios, runRm: res.runRm, ports100: res.ports100, many: res.many, notes: res.notes, load: [res.host.loadavgStart, res.host.loadavgEnd] }, null, 2));
  if (res.berthBenchNet) {
    const { renderTable } = await import('../src/cli/system/bench.js');
    console.log(renderTable(res.berthBenchNet));
  }
  const dir = join(repo, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `net-${res.date.slice(0, 19).replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(res, null, 2) + '\n');
  console.log(`results: ${file}`);
  return code;
}

process.on('SIGINT', () => { interrupted = true; });
main().then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });
