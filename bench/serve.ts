/**
 * The goals of issue 15 (`berth serve`, and the warm process by default), side by side in one
 * run, as ratios — never a CI test:
 *   1. `docker run --rm busybox true`, the same docker CLI (/usr/local/bin/docker, 28) against
 *      `berth serve` and against dockerd 20.10 (apt docker.io)                goal ≤ 0.5×
 *   2. `docker ps` with 100 containers on each                                goal ≤ 0.5×
 *      (and the CLI's own floor: the same `docker ps` against a stub that answers at once)
 *   3. `berth run --rm --network none busybox true` as a user runs it: the front dist/berth with
 *      no manual step (its warm process started by the first command) vs `podman run --rm
 *      --network none busybox true`                                           goal ≤ 0.5×
 *      (and, for the record: the first command, which starts the warm process, waiting for it or
 *      not (BERTH_WORKER_WAIT=0); a Node process per command, BERTH_NO_WORKER=1)
 *   4. 20 × `run -d --network none busybox sleep 1000`, total: berth (front, warm) vs podman
 *                                                                             goal ≤ 1.5 s
 *   5. server RSS: berth serve idle and with 100 containers vs dockerd + containerd
 *                                                                             goal ≤ 60 MiB / 80 MiB
 * Every engine on temp roots of its own with the same busybox image (from /bin/busybox, imported
 * as busybox:latest, Cmd sh — no registry); dockerd on its own socket, data and exec roots, no
 * bridge, no iptables; berth with no default bridge (BERTH_BRIDGE=none); podman with default
 * ulimits it can set (see bench/engine-peers.ts). Every command's exit status is checked.
 * Run as root after `npm run build`:  node build/bench/serve.js [N]   (N runs per timing, default 10;
 * BENCH_SERVE_MANY=100 containers for ps and RSS). Writes bench/results/serve-<date>.json.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/probe.js';
import { busyboxRootfs, haveBusybox } from '../test/helpers/rootfs.js';
import { exec, must, setupDocker, setupPodman, type Engine } from './engine-peers.js';
import { killLeftovers, memOf, unmountUnder } from './engine-proc.js';

const N = Number(process.argv[2] ?? 10);
const MANY = Number(process.env.BENCH_SERVE_MANY ?? 100);
const DETACHED = 20;
const DOCKER_CLI = '/usr/local/bin/docker';
const repo = repoRoot();
const FRONT = join(repo, 'dist', 'berth');
const CLI_JS = join(repo, 'dist', 'berth.cjs');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)]! : NaN; };
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const log = (s: string) => console.error(`[serve bench ${new Date().toISOString().slice(11, 19)}] ${s}`);
const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 2) : NaN);
const IMPORT = (tar: string) => ['import', '-c', 'CMD ["sh"]', tar, 'busybox:latest'];

/** A berth side: its roots, its environment (a user's: no BERTH_NO_WORKER, no socket of its own). */
interface Berth extends Engine { root: string; runRoot: string; server?: ChildProcess }

function berthEnv(root: string, runRoot: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_ROOT: root, BERTH_RUN_ROOT: runRoot, BERTH_BRIDGE: 'none' };
  for (const k of ['BERTH_CONFIG', 'BERTH_TRACE', 'BERTH_NO_WORKER', 'BERTH_WORKER_SOCKET', 'BERTH_WORKER_WAIT', 'BERTH_WORKER_IDLE_TIMEOUT']) delete env[k];
  return env;
}

/** The warm process the front started for a run root (its pid, from its log), if it runs. */
function warmPid(runRoot: string): number | undefined {
  let log = '';
  try { log = readFileSync(join(runRoot, 'cli.log'), 'utf8'); } catch { return undefined; }
  const m = [...log.matchAll(/\(pid (\d+)/g)].pop();
  const pid = m ? Number(m[1]) : undefined;
  return pid && existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(CLI_JS) ? pid : undefined;
}

async function stopPid(pid: number | undefined): Promise<void> {
  if (!pid) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 300 && existsSync(`/proc/${pid}`); i++) await sleep(50);
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

async function berthStop(e: Berth): Promise<string[]> {
  const report: string[] = [];
  const ids = exec(e, ['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  for (let i = 0; i < ids.length; i += 100) exec(e, ['rm', '-f', ...ids.slice(i, i + 100)]);
  if (e.server && e.server.exitCode === null) {
    e.server.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(r, 20000); e.server!.once('exit', () => { clearTimeout(t); r(undefined); }); });
  }
  await stopPid(warmPid(e.runRoot));
  report.push(...(await killLeftovers(e.ids, [e.root, e.runRoot], ['berth-monitor'])).map((s) => `${e.name}: ${s}`));
  report.push(...unmountUnder([e.runRoot, e.root]).map((m) => `${e.name}: unmounted ${m}`));
  for (const d of [e.runRoot, e.root]) rmSync(d, { recursive: true, force: true });
  return report;
}

/** berth as users run it: the front dist/berth, nothing started by hand. */
function setupBerthFront(work: string, tar: string): Berth {
  const root = join(work, 'berth');
  const runRoot = mkdtempSync('/tmp/bsf-');
  const e: Berth = {
    name: 'berth', argv: (args) => [FRONT, ...args], env: berthEnv(root, runRoot), rm: ['rm', '-f'], monitor: 'berth-monitor',
    ids: new Set(), notes: [], version: '', root, runRoot, stop: () => berthStop(e),
  };
  e.version = `${must(e, ['--version']).stdout.trim()} (${FRONT}, its warm process started by the first command)`;
  must(e, IMPORT(tar));
  return e;
}

/** `berth serve` on its own roots (a unix socket), and the same docker CLI as for dockerd. */
async function setupBerthServe(work: string, tar: string): Promise<Berth> {
  const root = join(work, 'berth-serve');
  const runRoot = mkdtempSync('/tmp/bss-');
  const sock = join(runRoot, 'docker.sock');
  const env = berthEnv(root, runRoot);
  const logFile = join(work, 'serve.log');
  const fd = openSync(logFile, 'w');
  // as a user runs it (the front, which execs Node in the same process: the pid stays)
  const server = spawn(FRONT, ['serve', '-H', `unix://${sock}`], { env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const e: Berth = {
    name: 'berth-serve' as Engine['name'], argv: (args) => [DOCKER_CLI, '-H', `unix://${sock}`, ...args], env: { ...env, DOCKER_CONFIG: join(work, 'docker-cli') },
    rm: ['rm', '-f'], monitor: 'berth-monitor', ids: new Set(), notes: [], version: '', root, runRoot, server, stop: () => berthStop(e),
    daemons: () => (server.exitCode === null && server.pid ? [server.pid] : []),
  };
  const end = Date.now() + 30000;
  while (!readFileSync(logFile, 'utf8').includes('berth commands served on')) {
    if (server.exitCode !== null || Date.now() > end) throw new Error(`berth serve did not start: ${readFileSync(logFile, 'utf8').slice(-1500)}`);
    await sleep(100);
  }
  // the image through the berth front, served by the same process (its CLI socket)
  must({ ...e, argv: (args) => [FRONT, ...args], env }, IMPORT(tar));
  e.version = `berth serve (${FRONT}), API ${must(e, ['version', '-f', '{{.Server.APIVersion}}']).stdout.trim()}, client ${DOCKER_CLI} ${must(e, ['version', '-f', '{{.Client.Version}}']).stdout.trim()}`;
  return e;
}

/**
 * The docker CLI's own floor for `docker ps`: a stub server that answers `/_ping` and the listing at
 * once with the answer berth serve gave (captured), so only the CLI's start, request, parse and
 * print are timed — no server can make the same `docker ps` faster than this.
 */
async function stubServer(work: string, like: Berth): Promise<Engine & { body: number }> {
  const sock = join(work, 'stub.sock'), bodyFile = join(work, 'stub-body.json');
  const body = await new Promise<Buffer>((resolve, reject) => {
    get({ socketPath: join(like.runRoot, 'docker.sock'), path: '/v1.47/containers/json' }, (r) => {
      const parts: Buffer[] = [];
      r.on('data', (c: Buffer) => parts.push(c)).on('end', () => (r.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`listing: HTTP ${r.statusCode}`))));
    }).on('error', reject);
  });
  writeFileSync(bodyFile, body);
  const script = `const http = require('node:http'), body = require('node:fs').readFileSync(process.env.BODY);
    http.createServer((q, s) => {
      if (q.url.endsWith('/_ping')) { s.writeHead(200, { 'Api-Version': '1.47', 'Ostype': 'linux', 'Docker-Experimental': 'false', 'Content-Type': 'text/plain; charset=utf-8' }); s.end(q.method === 'HEAD' ? undefined : 'OK'); return; }
      if (q.url.includes('/containers/json')) { s.writeHead(200, { 'Content-Type': 'application/json' }); s.end(body); return; }
      s.writeHead(404, { 'Content-Type': 'application/json' }); s.end('{"message":"not in the stub"}');
    }).listen(process.env.SOCK);`;
  const server = spawn(process.execPath, ['-e', script], { env: { ...process.env, BODY: bodyFile, SOCK: sock }, stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);
  if (!existsSync(sock)) throw new Error('the stub server did not start');
  return {
    name: 'stub' as Engine['name'], argv: (args) => [DOCKER_CLI, '-H', `unix://${sock}`, ...args], env: like.env, rm: [], monitor: '', ids: new Set(),
    notes: [], version: '', body: body.length, stop: async () => { server.kill('SIGKILL'); return []; },
  };
}

/** dockerd 20.10 as engine-peers.ts starts it, driven by the same docker CLI as berth serve. */
async function setupDockerd(work: string, tar: string, made: (e: Engine) => void): Promise<Engine> {
  const d = await setupDocker(work, tar, made);
  const host = d.argv([])[2]!;
  const e: Engine = { ...d, name: 'docker', argv: (args) => [DOCKER_CLI, '-H', host, ...args] };
  e.version = `${d.version}; timed with ${DOCKER_CLI} ${must(e, ['version', '-f', '{{.Client.Version}}']).stdout.trim()}`;
  return e;
}

/** Interleaved timings of `args` on each engine (+2 warm-up rounds): ms samples per engine. */
function timeEach(engines: Array<[Engine, string[]]>, n = N): number[][] {
  const out: number[][] = engines.map(() => []);
  for (let i = 0; i < n + 2; i++) {
    engines.forEach(([e, args], k) => {
      const r = must(e, args);
      if (i >= 2) out[k]!.push(r.ms);
    });
  }
  return out;
}

const rssKiB = (pids: number[]) => sum(pids.map((p) => memOf(p).rssKiB));
const anonKiB = (pids: number[]) => sum(pids.map((p) => memOf(p).anonKiB ?? NaN));
const stat = (v: number[]) => ({ medianMs: round(median(v)), minMs: round(Math.min(...v)), samplesMs: v.map((x) => round(x)) });

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  if (!haveBusybox()) throw new Error('needs a static /bin/busybox (busybox-static)');
  if (!existsSync(FRONT) || !existsSync(DOCKER_CLI)) throw new Error(`needs ${FRONT} (npm run build) and ${DOCKER_CLI}`);
  const work = mkdtempSync('/tmp/bench-serve-');
  const res: Record<string, any> = {
    date: new Date().toISOString(), host: { kernel: release(), cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(), loadavgStart: loadavg().map((x) => round(x, 2)) },
    params: { N, many: MANY, detached: DETACHED }, versions: {}, notes: [], goals: {},
  };
  const engines: Engine[] = [];
  let code = 0;
  try {
    const fs = busyboxRootfs(join(work, 'rootfs'));
    const tar = join(work, 'busybox.tar.gz');
    execFileSync('tar', ['--numeric-owner', '-C', fs, '-czf', tar, '.']);
    rmSync(fs, { recursive: true, force: true });
    mkdirSync(join(work, 'docker-cli'), { recursive: true });

    log('setting up berth serve, dockerd, berth (front), podman');
    const serve = await setupBerthServe(work, tar);
    engines.push(serve);
    res.serveRssKiB = { afterStart: rssKiB(serve.daemons!()) };
    const docker = await setupDockerd(work, tar, (x) => engines.push(x));
    if (!engines.includes(docker)) engines.splice(engines.findIndex((x) => x.name === 'docker'), 1, docker);
    res.dockerRssKiB = { afterStart: rssKiB(docker.daemons!()) };
    const front = setupBerthFront(work, tar);
    engines.push(front);
    const podman = await setupPodman(work, tar, (x) => engines.push(x));
    for (const e of engines) { res.versions[e.name] = e.version; res.notes.push(...e.notes); }

    // 1. docker run --rm (no --network: each server's default; both have no bridge here)
    const RUN = ['run', '--rm', 'busybox', 'true'];
    log(`1. docker ${RUN.join(' ')}: ${N} each, interleaved`);
    const [sRun, dRun] = timeEach([[serve, RUN], [docker, RUN]]);
    res.dockerRun = { 'berth-serve': stat(sRun!), docker: stat(dRun!), ratio: ratio(median(sRun!), median(dRun!)) };

    // 3. berth run (front, warm) vs podman
    const BRUN = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
    log(`3. ${BRUN.join(' ')}: berth front vs podman, ${N} each, interleaved`);
    const [bRun, pRun] = timeEach([[front, BRUN], [podman, BRUN]]);
    // the first command of a run root (it starts the warm process): waiting for it, or not
    const first: Record<string, number[]> = { wait: [], noWait: [], secondAfterNoWait: [], node: [] };
    for (let i = 0; i < Math.min(N, 5); i++) {
      for (const mode of ['wait', 'noWait'] as const) {
        await stopPid(warmPid(front.runRoot));
        const env = mode === 'wait' ? front.env : { ...front.env, BERTH_WORKER_WAIT: '0' };
        first[mode]!.push(must(front, BRUN, env).ms);
        if (mode === 'noWait') first.secondAfterNoWait!.push(must(front, BRUN).ms);
      }
      first.node!.push(must(front, BRUN, { ...front.env, BERTH_NO_WORKER: '1' }).ms);
    }
    must(front, BRUN); // (warm again)
    res.berthRun = {
      berth: stat(bRun!), podman: stat(pRun!), ratio: ratio(median(bRun!), median(pRun!)),
      firstCommand: Object.fromEntries(Object.entries(first).map(([k, v]) => [k, stat(v)])),
    };

    // 4. 20 detached starts
    log(`4. ${DETACHED} x run -d: berth front vs podman, interleaved`);
    const DET = ['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'];
    const det: Record<string, number[]> = { berth: [], podman: [] };
    const detIds: Record<string, string[]> = { berth: [], podman: [] };
    for (let i = 0; i < DETACHED; i++) {
      for (const e of [front, podman]) {
        const r = must(e, DET);
        det[e.name]!.push(r.ms);
        detIds[e.name]!.push(r.stdout.trim());
        e.ids.add(r.stdout.trim());
      }
    }
    for (const e of [front, podman]) must(e, [...e.rm, ...detIds[e.name]!]);
    res.detached = { count: DETACHED, totalMs: { berth: round(sum(det.berth!)), podman: round(sum(det.podman!)) }, medianMs: { berth: round(median(det.berth!)), podman: round(median(det.podman!)) } };
    res.warmRssKiB = rssKiB([warmPid(front.runRoot) ?? 0].filter(Boolean));

    // 5a. idle RSS after the run benchmark (a warm process settles its memory once quiet: worker-idle.ts)
    await sleep(15000);
    res.serveRssKiB.idle = rssKiB(serve.daemons!());
    res.dockerRssKiB.idle = rssKiB(docker.daemons!());
    // the processes' own memory (anonymous pages), beside RSS's mapped binaries and libraries
    res.serveAnonKiB = { idle: anonKiB(serve.daemons!()) };
    res.dockerAnonKiB = { idle: anonKiB(docker.daemons!()) };

    // 2. docker ps with MANY containers each (and 5b. RSS with them)
    log(`2. ${MANY} containers on berth serve and on dockerd, then docker ps`);
    const MK = ['run', '-d', '--network', 'none', 'busybox', 'sleep', '100000'];
    const startMs: Record<string, number[]> = { 'berth-serve': [], docker: [] };
    for (let i = 0; i < MANY; i++) {
      for (const e of [serve, docker]) {
        const r = must(e, MK);
        e.ids.add(r.stdout.trim());
        startMs[e.name]!.push(r.ms);
      }
      if ((i + 1) % 25 === 0) log(`   ${i + 1}/${MANY}`);
    }
    for (const e of [serve, docker]) {
      const n = must(e, ['ps', '-q']).stdout.trim().split('\n').filter(Boolean).length;
      if (n !== MANY) throw new Error(`${e.name}: ${n} containers running, want ${MANY}`);
    }
    const stub = await stubServer(work, serve);
    engines.push(stub);
    const [sPs, dPs, fPs] = timeEach([[serve, ['ps']], [docker, ['ps']], [stub, ['ps']]]);
    res.dockerPs = {
      'berth-serve': stat(sPs!), docker: stat(dPs!), ratio: ratio(median(sPs!), median(dPs!)),
      clientFloor: { ...stat(fPs!), answerBytes: stub.body, ratioToDockerd: ratio(median(fPs!), median(dPs!)) },
    };
    res.dockerRunD = { 'berth-serve': round(median(startMs['berth-serve']!)), docker: round(median(startMs.docker!)) };
    await sleep(15000);
    res.serveRssKiB.many = rssKiB(serve.daemons!());
    res.dockerRssKiB.many = rssKiB(docker.daemons!());
    res.serveAnonKiB.many = anonKiB(serve.daemons!());
    res.dockerAnonKiB.many = anonKiB(docker.daemons!());

    const MiB = (k: number) => round(k / 1024);
    res.goals = {
      'docker run --rm busybox true: berth serve / dockerd ≤ 0.5': res.dockerRun.ratio,
      [`docker ps with ${MANY}: berth serve / dockerd ≤ 0.5`]: res.dockerPs.ratio,
      'berth run --rm --network none (front, warm) / podman ≤ 0.5': res.berthRun.ratio,
      [`${DETACHED} detached starts (berth front, warm) ≤ 1500 ms`]: res.detached.totalMs.berth,
      'berth serve RSS idle ≤ 60 MiB': MiB(res.serveRssKiB.idle),
      [`berth serve RSS with ${MANY} containers ≤ 80 MiB`]: MiB(res.serveRssKiB.many),
    };
    res.markdown = [
      `| benchmark | berth | peer | ratio | goal |`, '|---|---:|---:|---:|---|',
      `| \`docker run --rm busybox true\` (docker CLI 28), median of ${N} (ms): berth serve vs dockerd 20.10 | ${res.dockerRun['berth-serve'].medianMs} | ${res.dockerRun.docker.medianMs} | ${res.dockerRun.ratio} | ≤ 0.5 |`,
      `| \`docker ps\` with ${MANY} containers each, median of ${N} (ms) | ${res.dockerPs['berth-serve'].medianMs} | ${res.dockerPs.docker.medianMs} | ${res.dockerPs.ratio} | ≤ 0.5 |`,
      `| \`berth run --rm --network none busybox true\` (front, warm process started by the first command) vs \`podman run …\`, median of ${N} (ms) | ${res.berthRun.berth.medianMs} | ${res.berthRun.podman.medianMs} | ${res.berthRun.ratio} | ≤ 0.5 |`,
      `| ${DETACHED} × \`run -d --network none busybox sleep 1000\`, total (ms): berth front vs podman | ${res.detached.totalMs.berth} | ${res.detached.totalMs.podman} | ${ratio(res.detached.totalMs.berth, res.detached.totalMs.podman)} | berth ≤ 1500 ms |`,
      `| server RSS idle (MiB): berth serve vs dockerd + containerd | ${MiB(res.serveRssKiB.idle)} | ${MiB(res.dockerRssKiB.idle)} | ${ratio(res.serveRssKiB.idle, res.dockerRssKiB.idle)} | berth ≤ 60 MiB |`,
      `| server RSS with ${MANY} containers (MiB) | ${MiB(res.serveRssKiB.many)} | ${MiB(res.dockerRssKiB.many)} | ${ratio(res.serveRssKiB.many, res.dockerRssKiB.many)} | berth ≤ 80 MiB |`,
      '',
      `first \`berth run\` of a run root (it starts the warm process), median of ${first.wait!.length} (ms): waiting for it ${res.berthRun.firstCommand.wait.medianMs}; ` +
      `running in Node meanwhile (BERTH_WORKER_WAIT=0) ${res.berthRun.firstCommand.noWait.medianMs}, then the second ${res.berthRun.firstCommand.secondAfterNoWait.medianMs}; ` +
      `a Node process per command (BERTH_NO_WORKER=1) ${res.berthRun.firstCommand.node.medianMs}. ` +
      `\`docker ps\` against a stub server answering at once with berth serve's ${res.dockerPs.clientFloor.answerBytes}-byte listing (the CLI's own floor), median of ${N}: ${res.dockerPs.clientFloor.medianMs} ms = ${res.dockerPs.clientFloor.ratioToDockerd}× dockerd's. ` +
      `anonymous memory (RssAnon, MiB) idle / with ${MANY} containers: berth serve ${MiB(res.serveAnonKiB.idle)} / ${MiB(res.serveAnonKiB.many)}, dockerd + containerd ${MiB(res.dockerAnonKiB.idle)} / ${MiB(res.dockerAnonKiB.many)}. ` +
      `berth serve RSS right after start ${MiB(res.serveRssKiB.afterStart)} MiB; the front's warm process after the runs ${MiB(res.warmRssKiB)} MiB; ` +
      `\`docker run -d\` median: berth serve ${res.dockerRunD['berth-serve']} ms, dockerd ${res.dockerRunD.docker} ms.`,
    ].join('\n');
  } catch (err) {
    res.error = (err as Error).stack ?? String(err);
    console.error(`serve bench: ${res.error}`);
    code = 1;
  } finally {
    for (const e of engines.reverse()) {
      log(`cleaning up ${e.name}`);
      try { res.cleanup = [...(res.cleanup ?? []), ...(await e.stop())]; } catch (err) { console.error(`cleanup ${e.name}: ${(err as Error).message}`); code = 1; }
    }
    rmSync(work, { recursive: true, force: true });
  }
  res.host.loadavgEnd = loadavg().map((x) => round(x, 2));
  console.log(`\n## berth serve benchmark, ${res.date} (kernel ${res.host.kernel}, ${res.host.cpus} CPUs, load average ${res.host.loadavgStart[0]} at start, ${res.host.loadavgEnd[0]} at end)\n`);
  for (const [k, v] of Object.entries(res.versions)) console.log(`- ${k}: ${v}`);
  for (const n of res.notes) console.log(`- note: ${n}`);
  if (res.markdown) console.log(`\n${res.markdown}`);
  if (res.cleanup?.length) console.log(`\nclean-up had to: ${res.cleanup.join('; ')}`);
  if (res.error) console.log(`\nFAILED: ${res.error}`);
  const dir = join(repo, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `serve-${res.date.slice(0, 19).replace(/:/g, '-')}.json`);
  // paths of this checkout as <repo>: the results name no machine's paths
  writeFileSync(file, JSON.stringify(res, null, 2).split(repo).join('<repo>') + '\n');
  console.log(`\nresults: ${file}`);
  return code;
}

main().then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });
