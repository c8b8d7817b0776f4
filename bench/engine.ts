/**
 * Benchmark: the container engine side by side — berth (a Node process per command), berth-worker
 * (the native front dist/berth handing commands to a warm `berth worker`), docker (its own dockerd)
 * and podman, each on temp roots with the same busybox image (from /bin/busybox, imported as
 * busybox:latest, Cmd sh).
 *   1. `run --rm --network none busybox true`, median of N, interleaved      target: berth <= 0.5 x podman
 *   2. BENCH_DETACHED (20) x `run -d --network none busybox sleep 1000`, total  target: berth < 1.5 s
 *      then `rm -f` of them (timed separately)
 *   3. memory of the per-container monitor with one sleeping container: berth-monitor vs conmon vs
 *      containerd-shim-runc-v2 (VmRSS, and PSS from smaps_rollup)
 *   4. BENCH_IDLE (500) idle berth containers (through the worker when it runs): start all, monitors' memory, all Up in `ps`, `ps`
 *      time, `rm -f` of all (BENCH_IDLE_PODMAN=1: podman too, or =COUNT; BENCH_IDLE=0: skip)
 * Run as root:  node build/bench/engine.js [N]     (BENCH_ENGINES=berth,berth-worker,docker,podman to choose;
 * BENCH_BERTH_CLI=path/to/berth.js to run another berth CLI with node than the front dist/berth)
 * Prints a markdown table and writes bench/results/engine-<date>.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/probe.js';
import { busyboxRootfs, haveBusybox } from '../test/helpers/rootfs.js';
import { exec, must, setupBerth, setupBerthWorker, setupDocker, setupPodman, type Engine, type EngineName } from './engine-peers.js';
import { comm, memAvailableKiB, memOf, ppid, type Mem } from './engine-proc.js';

const N = Number(process.argv[2] ?? 20);
const DETACHED = Number(process.env.BENCH_DETACHED ?? 20);
const IDLE = Number(process.env.BENCH_IDLE ?? 500);
/** BENCH_IDLE_PODMAN=1: podman idle containers too (as many as berth's); a number > 1: that many. */
const IDLE_PODMAN = ((v) => (v === undefined || v === '' || v === '0' ? 0 : Number(v) > 1 ? Number(v) : IDLE))(process.env.BENCH_IDLE_PODMAN);
const WANT = (process.env.BENCH_ENGINES ?? 'berth,berth-worker,docker,podman').split(',').map((s) => s.trim()) as EngineName[];
const RUN = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
const DETACH = (secs: number) => ['run', '-d', '--network', 'none', 'busybox', 'sleep', String(secs)];

let interrupted: string | undefined;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { interrupted = sig; console.error(`\n${sig}: stopping after the current command, then cleaning up`); });
/** Let signal handlers run between (synchronous) commands; stop when one came. */
async function checkpoint(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)]! : NaN; };
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const log = (s: string) => console.error(`[bench] ${s}`);

function containerId(e: Engine, out: string): string {
  const id = out.trim().split('\n').pop()!.trim();
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`${e.name} run -d: expected a container id, got ${JSON.stringify(out.slice(-300))}`);
  e.ids.add(id);
  return id;
}

/** `inspect -f {{.State.Pid}}` of many containers (chunks of 100), in order. */
function pidsOf(e: Engine, ids: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    const r = must(e, ['inspect', '-f', '{{.State.Pid}}', ...ids.slice(i, i + 100)]);
    out.push(...r.stdout.trim().split('\n').map(Number));
  }
  if (out.length !== ids.length || out.some((p) => !(p > 0))) throw new Error(`${e.name} inspect: pids ${out.slice(0, 10).join(',')}… for ${ids.length} containers`);
  return out;
}

/** The engine's monitor above a container's init: its parent, or the nearest ancestor named e.monitor. */
function monitorOf(e: Engine, pid: number): number {
  let p: number | undefined = pid;
  for (let i = 0; i < 4 && p; i++) {
    p = ppid(p);
    if (p && comm(p) === e.monitor) return p;
  }
  throw new Error(`${e.name}: no ${e.monitor} above container pid ${pid} (parent ${ppid(pid)} is ${comm(ppid(pid) ?? 0)})`);
}

// ---- 1. run --rm ----
async function benchRun(engines: Engine[]) {
  const samples: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]));
  log(`1. ${RUN.join(' ')}: ${N} runs each (+2 warm-up), interleaved`);
  for (let i = 0; i < N + 2; i++) {
    for (const e of engines) {
      const r = must(e, RUN);
      if (i >= 2) samples[e.name]!.push(r.ms);
      await checkpoint();
    }
  }
  const berth = engines.find((e) => e.name === 'berth')!;
  const traced = exec(berth, RUN, { ...berth.env, BERTH_TRACE: '1' });
  const trace = traced.stderr.split('\n').filter((l) => l.startsWith('[trace'));
  return {
    medianMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(median(v))])),
    minMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(Math.min(...v))])),
    samplesMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((x) => round(x))])),
    berthTrace: { wallMs: round(traced.ms), marks: trace },
  };
}

// ---- 2. N detached, then rm -f ----
async function benchDetached(engines: Engine[]) {
  log(`2. ${DETACHED} x ${DETACH(1000).join(' ')}, interleaved; then rm -f of them`);
  const ms: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]));
  const ids: Record<string, string[]> = Object.fromEntries(engines.map((e) => [e.name, []]));
  for (let i = 0; i < DETACHED; i++) {
    for (const e of engines) {
      const r = must(e, DETACH(1000));
      ids[e.name]!.push(containerId(e, r.stdout));
      ms[e.name]!.push(r.ms);
      await checkpoint();
    }
  }
  const running: Record<string, number> = {};
  const rmMs: Record<string, number> = {};
  for (const e of engines) {
    running[e.name] = must(e, ['ps', '-q']).stdout.trim().split('\n').filter(Boolean).length;
    rmMs[e.name] = round(must(e, [...e.rm, ...ids[e.name]!]).ms);
    await checkpoint();
  }
  return {
    count: DETACHED,
    totalMs: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round(sum(v))])),
    medianMs: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round(median(v))])),
    maxMs: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round(Math.max(...v))])),
    runningAfter: running,
    rmAllMs: rmMs,
  };
}

// ---- 3. monitor memory ----
async function benchMonitor(engines: Engine[]) {
  log('3. monitor memory with one detached sleep container per engine');
  const ids = new Map<Engine, string>();
  for (const e of engines) ids.set(e, containerId(e, must(e, DETACH(1000)).stdout));
  await sleep(2000); // let each monitor settle (Go runtimes grow after start)
  const out: Record<string, Mem & { daemonsRssKiB?: number }> = {};
  for (const e of engines) {
    const [pid] = pidsOf(e, [ids.get(e)!]);
    const m: Mem & { daemonsRssKiB?: number } = memOf(monitorOf(e, pid!));
    const d = e.daemons?.();
    if (d?.length) m.daemonsRssKiB = sum(d.map((p) => memOf(p).rssKiB));
    out[e.name] = m;
  }
  for (const e of engines) must(e, [...e.rm, ids.get(e)!]);
  return out;
}

// ---- 4. many idle containers ----
async function benchIdle(e: Engine, count: number) {
  log(`4. ${count} idle ${e.name} containers (${DETACH(100000).join(' ')})`);
  const before = memAvailableKiB();
  const ids: string[] = [];
  const ms: number[] = [];
  const t0 = Date.now();
  const traces: Record<string, string[]> = {};
  for (let i = 0; i < count; i++) {
    // berth: the first and the last start with BERTH_TRACE=1, to show which phase grows with the count.
    const trace = e.name.startsWith('berth') && (i === 0 || i === count - 1);
    const r = must(e, DETACH(100000), trace ? { ...e.env, BERTH_TRACE: '1' } : undefined);
    if (trace) traces[i === 0 ? 'first' : 'last'] = r.stderr.split('\n').filter((l) => l.startsWith('[trace'));
    ids.push(containerId(e, r.stdout));
    ms.push(r.ms);
    if ((i + 1) % 50 === 0) log(`   ${e.name}: ${i + 1}/${count} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await checkpoint();
  }
  const startAllMs = Date.now() - t0;
  await sleep(2000);
  const monitors = pidsOf(e, ids).map((p) => memOf(monitorOf(e, p)));
  const after = memAvailableKiB();
  const psMs: number[] = [];
  let psOut = '';
  for (let i = 0; i < 3; i++) { const r = must(e, ['ps']); psMs.push(r.ms); psOut = r.stdout; await checkpoint(); }
  const upShort = new Set(psOut.split('\n').slice(1).filter((l) => /\bUp\b/.test(l)).map((l) => l.split(/\s+/)[0]!));
  const notUp = ids.filter((id) => !upShort.has(id.slice(0, 12)));
  const rm = must(e, [...e.rm, ...ids]);
  const left = must(e, ['ps', '-aq']).stdout.trim().split('\n').filter(Boolean).length;
  return {
    count, startAllMs, perContainerMedianMs: round(median(ms)), perContainerMaxMs: round(Math.max(...ms)),
    first50MedianMs: round(median(ms.slice(0, 50))), last50MedianMs: round(median(ms.slice(-50))),
    perContainerMs: ms.map((x) => round(x)), traces,
    monitorsRssKiB: sum(monitors.map((m) => m.rssKiB)), monitorsPssKiB: monitors.every((m) => m.pssKiB !== undefined) ? sum(monitors.map((m) => m.pssKiB!)) : undefined,
    monitorRssMedianKiB: median(monitors.map((m) => m.rssKiB)),
    memAvailableDropKiB: before - after,
    allUp: notUp.length === 0, notUp: notUp.length, psMedianMs: round(median(psMs)), psMs: psMs.map((x) => round(x)),
    rmAllMs: round(rm.ms), containersLeftAfterRm: left,
  };
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 ? (a / b).toFixed(2) : '–';
}

function report(res: Record<string, any>, names: string[]): string {
  const cell = (v: number | undefined, unit = '') => (v === undefined || Number.isNaN(v) ? '–' : `${v}${unit}`);
  const row = (label: string, get: (n: string) => number | undefined, target = '') =>
    `| ${label} | ${names.map((n) => cell(get(n))).join(' | ')} | ${ratio(get('berth'), get('podman'))} | ${ratio(get('berth'), get('docker'))} | ${ratio(get('berth-worker'), get('podman'))} | ${ratio(get('berth-worker'), get('docker'))} | ${target} |`;
  const lines = [
    `| benchmark | ${names.join(' | ')} | berth/podman | berth/docker | berth-worker/podman | berth-worker/docker | target |`,
    `|---|${names.map(() => '---:').join('|')}|---:|---:|---:|---:|---|`,
  ];
  if (res.run) lines.push(row(`\`run --rm --network none busybox true\`, median of ${N} (ms)`, (n) => res.run.medianMs[n], 'berth ≤ 0.5 × podman'));
  if (res.detached) {
    lines.push(row(`${res.detached.count} × \`run -d --network none busybox sleep 1000\`, total (ms)`, (n) => res.detached.totalMs[n], 'berth < 1500 ms'));
    lines.push(row(`  one \`run -d\`, median (ms)`, (n) => res.detached.medianMs[n]));
    lines.push(row(`\`rm -f\` of the ${res.detached.count} (ms)`, (n) => res.detached.rmAllMs[n]));
  }
  if (res.monitor) {
    lines.push(row('monitor VmRSS (KiB)', (n) => res.monitor[n]?.rssKiB));
    lines.push(row('monitor PSS (KiB)', (n) => res.monitor[n]?.pssKiB));
  }
  const out = [lines.join('\n')];
  if (res.monitor) out.push(`monitors: ${names.filter((n) => res.monitor[n]).map((n) => `${n} = ${res.monitor[n].comm}`).join(', ')}` +
    (res.monitor.docker?.daemonsRssKiB ? `; docker's daemons (dockerd + containerd, shared by all containers, not in the table): ${res.monitor.docker.daemonsRssKiB} KiB RSS` : ''));
  for (const [n, r] of Object.entries(res.idle ?? {}) as Array<[string, any]>) {
    if (r.error) { out.push(`\n${n}: idle containers: ${r.error}`); continue; }
    out.push([
      `\n| ${r.count} idle containers (${n}) | value |`, '|---|---:|',
      `| start all (sequential \`run -d\`) | ${(r.startAllMs / 1000).toFixed(1)} s (median ${r.perContainerMedianMs} ms, max ${r.perContainerMaxMs} ms each) |`,
      `| one \`run -d\`: median of the first 50 → of the last 50 | ${r.first50MedianMs} ms → ${r.last50MedianMs} ms |`,
      `| monitors' VmRSS, total | ${(r.monitorsRssKiB / 1024).toFixed(1)} MiB (median ${r.monitorRssMedianKiB} KiB each) |`,
      `| monitors' PSS, total | ${r.monitorsPssKiB === undefined ? '–' : `${(r.monitorsPssKiB / 1024).toFixed(1)} MiB`} |`,
      `| host MemAvailable drop (monitors, containers, kernel; noisy if anything else runs) | ${(r.memAvailableDropKiB / 1024).toFixed(1)} MiB |`,
      `| all Up in \`ps\` | ${r.allUp ? 'yes' : `no: ${r.notUp} not Up`} |`,
      `| \`ps\` with ${r.count}, median of 3 | ${r.psMedianMs} ms |`,
      `| \`rm -f\` of all ${r.count} (one command) | ${(r.rmAllMs / 1000).toFixed(1)} s (${r.containersLeftAfterRm} left) |`,
    ].join('\n'));
  }
  return out.join('\n');
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  if (!haveBusybox()) throw new Error('needs a static /bin/busybox (busybox-static)');
  const repo = repoRoot();
  const work = mkdtempSync('/tmp/bench-eng-');
  const engines: Engine[] = [];
  const res: Record<string, any> = {
    date: new Date().toISOString(), host: { kernel: release(), cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(), loadavgStart: loadavg().map((x) => round(x, 2)) },
    params: { N, detached: DETACHED, idle: IDLE, idlePodman: IDLE_PODMAN }, versions: {}, notes: [], unavailable: {},
  };
  let code = 0;
  try {
    const fs = busyboxRootfs(join(work, 'rootfs'));
    const tar = join(work, 'busybox.tar.gz');
    execFileSync('tar', ['--numeric-owner', '-C', fs, '-czf', tar, '.']);
    rmSync(fs, { recursive: true, force: true });
    for (const name of WANT) {
      let made: Engine | undefined;
      const created = (e: Engine) => { made = e; };
      try {
        log(`setting up ${name}`);
        const e = name === 'berth' ? await setupBerth(work, tar, repo, created)
          : name === 'berth-worker' ? await setupBerthWorker(work, tar, repo, created)
          : name === 'docker' ? await setupDocker(work, tar, created)
          : name === 'podman' ? await setupPodman(work, tar, created) : undefined;
        if (!e) throw new Error(`unknown engine ${name}`);
        must(e, RUN); // works here?
        engines.push(e);
      } catch (err) {
        if (name === 'berth') { if (made) engines.push(made); throw err; }
        res.unavailable[name] = (err as Error).message;
        log(`${name}: unavailable here: ${(err as Error).message}`);
        if (made) for (const l of await made.stop().catch((x) => [String(x)])) log(l);
      }
      await checkpoint();
    }
    for (const e of engines) { res.versions[e.name] = e.version; res.notes.push(...e.notes); }
    const names = engines.map((e) => e.name);
    res.run = await benchRun(engines);
    res.detached = await benchDetached(engines);
    res.monitor = await benchMonitor(engines);
    res.idle = {};
    if (IDLE > 0) {
      // berth's idle containers are started through the worker when it is there (faster; the
      // containers and monitors are the same)
      const berthIdle = engines.find((x) => x.name === 'berth-worker') ?? engines.find((x) => x.name === 'berth');
      for (const e of engines.filter((x) => x === berthIdle || (x.name === 'podman' && IDLE_PODMAN > 0))) {
        try { res.idle[e.name] = await benchIdle(e, e.name === 'podman' ? IDLE_PODMAN : IDLE); } catch (err) {
          if (interrupted) throw err;
          res.idle[e.name] = { error: (err as Error).message };
          log(`${e.name} idle: ${(err as Error).message}`);
        }
      }
    }
    res.markdown = report(res, names);
  } catch (err) {
    res.error = (err as Error).message;
    console.error(`engine bench: ${(err as Error).stack ?? err}`);
    code = 1;
  } finally {
    for (const e of engines.reverse()) {
      log(`cleaning up ${e.name}`);
      try { res.cleanup = [...(res.cleanup ?? []), ...(await e.stop())]; } catch (err) { console.error(`cleanup ${e.name}: ${(err as Error).message}`); code = 1; }
    }
    rmSync(work, { recursive: true, force: true });
  }
  res.host.loadavgEnd = loadavg().map((x) => round(x, 2));
  const names = Object.keys(res.versions);
  if (!res.markdown && (res.run || res.detached)) res.markdown = report(res, names);
  console.log(`\n## berth engine benchmark, ${res.date} (kernel ${res.host.kernel}, ${res.host.cpus} CPUs, load average ${res.host.loadavgStart[0]} at start, ${res.host.loadavgEnd[0]} at end)\n`);
  for (const [k, v] of Object.entries(res.versions)) console.log(`- ${k}: ${v}`);
  for (const n of res.notes) console.log(`- note: ${n}`);
  for (const [k, v] of Object.entries(res.unavailable)) console.log(`- ${k} unavailable here: ${v}`);
  if (res.markdown) console.log(`\n${res.markdown}`);
  if (res.run?.berthTrace) console.log(`\nberth run --rm with BERTH_TRACE=1 (${res.run.berthTrace.wallMs} ms wall):\n${res.run.berthTrace.marks.map((l: string) => `    ${l}`).join('\n')}`);
  for (const [n, r] of Object.entries(res.idle ?? {}) as Array<[string, any]>) {
    for (const [k, marks] of Object.entries(r.traces ?? {}) as Array<[string, string[]]>) if (marks.length) console.log(`\n${n}: the ${k} of ${r.count} \`run -d\` with BERTH_TRACE=1:\n${marks.map((l) => `    ${l}`).join('\n')}`);
  }
  if (res.cleanup?.length) console.log(`\nclean-up had to: ${res.cleanup.join('; ')}`);
  if (res.error) console.log(`\nFAILED: ${res.error}`);
  const dir = join(repo, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `engine-${res.date.slice(0, 19).replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(res, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
  return code;
}

main().then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });
