/**
 * `berth build` side by side with `podman build` (buildah) in one run, on private roots with the
 * same base images, as ratios (berth / podman). Three Dockerfiles whose RUNs need no network:
 *   debian   multi-stage on a debootstrap --variant=minbase bookworm base (imported into both
 *            engines as debian:bookworm; built once and kept under /var/cache/berth-test/minbase;
 *            left out, and said so, when it cannot be made here)
 *   copies   a busybox app with many COPYs
 *   context  a 10,000-file context copied whole
 * BENCH_WORKLOADS=debian,copies,10k picks some. Each: cold (--no-cache), unchanged rebuild, one source file changed (median of BENCH_N runs for
 * the last two). Every command must exit 0 (a failing peer would look fast). Results go to
 * bench/results/build-<date>.json and a markdown table on stdout.
 *   node build/bench/build.js        (as root, after npm run build)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busyboxRootfs, haveBusybox } from '../test/helpers/rootfs.js';
import { must, setupBerth, setupBerthWorker, setupPodman, type Engine } from './engine-peers.js';

const N = Number(process.env.BENCH_N ?? 3);
const MINBASE = process.env.BENCH_MINBASE ?? '/var/cache/berth-test/minbase';
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (s: string) => process.stderr.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

interface Workload { name: string; dir: string; change: () => void; base: 'busybox' | 'debian' }

function write(dir: string, files: Record<string, string>): void {
  for (const [p, body] of Object.entries(files)) { mkdirSync(dirname(join(dir, p)), { recursive: true }); writeFileSync(join(dir, p), body); }
}

function workloads(work: string, debian: boolean): Workload[] {
  const out: Workload[] = [];
  if (debian) {
    const dir = join(work, 'ctx-debian');
    const files: Record<string, string> = {
      Dockerfile: `FROM debian:bookworm AS build
RUN mkdir -p /src /out && echo "deb-build" > /out/stamp
COPY src/ /src/
RUN cd /src && find . -type f | sort | xargs sha256sum > /out/SUMS && tar -C /src -czf /out/app.tgz .
RUN dpkg -l > /out/packages.txt
FROM debian:bookworm
RUN mkdir -p /app && echo ready > /app/ready
COPY --from=build /out/ /app/
RUN cd /app && tar -xzf app.tgz && rm app.tgz && sha256sum -c SUMS --quiet
WORKDIR /app
CMD ["/bin/bash"]
`,
    };
    for (let i = 0; i < 200; i++) files[`src/mod${i}/file${i}.c`] = `int f${i}(void) { return ${i}; }\n`.repeat(20);
    write(dir, files);
    out.push({ name: 'debian multi-stage', dir, base: 'debian', change: () => writeFileSync(join(dir, 'src/mod7/file7.c'), `int f7(void) { return ${Date.now()}; }\n`) });
  }
  {
    const dir = join(work, 'ctx-copies');
    let df = 'FROM busybox:latest\nWORKDIR /app\nRUN mkdir -p /app/bin /app/etc && echo start > /app/etc/start\n';
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) {
      df += `COPY part${i}/ /app/part${i}/\n`;
      for (let j = 0; j < 10; j++) files[`part${i}/f${j}.txt`] = `part ${i} file ${j}\n`.repeat(50);
    }
    df += 'COPY main.sh /app/bin/\nRUN chmod 755 /app/bin/main.sh && cat /app/part*/f0.txt | wc -l > /app/lines\nCMD ["/app/bin/main.sh"]\n';
    files.Dockerfile = df;
    files['main.sh'] = '#!/bin/sh\necho app\n';
    write(dir, files);
    out.push({ name: 'busybox app, 32 COPYs', dir, base: 'busybox', change: () => writeFileSync(join(dir, 'part29/f3.txt'), `changed ${Date.now()}\n`) });
  }
  {
    const dir = join(work, 'ctx-10k');
    mkdirSync(dir);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY . /ctx/\nRUN find /ctx -type f | wc -l > /count\n');
    for (let d = 0; d < 100; d++) {
      mkdirSync(join(dir, `d${d}`));
      for (let f = 0; f < 100; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), `${d}/${f}\n`);
    }
    out.push({ name: '10,000-file context', dir, base: 'busybox', change: () => writeFileSync(join(dir, 'd50/f50'), `changed ${Date.now()}\n`) });
  }
  return out;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  if (!haveBusybox()) throw new Error('needs a static /bin/busybox (busybox-static)');
  const work = mkdtempSync('/tmp/bench-build-');
  const engines: Engine[] = [];
  const res: Record<string, any> = { date: new Date().toISOString(), host: { kernel: release(), cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(), loadavgStart: round(loadavg()[0]!, 2) }, N, versions: {}, notes: [], results: {} };
  let code = 0;
  try {
    const fs = busyboxRootfs(join(work, 'rootfs'));
    const tar = join(work, 'busybox.tar.gz');
    execFileSync('tar', ['--numeric-owner', '-C', fs, '-czf', tar, '.']);
    const debian = existsSync(join(MINBASE, 'etc/debian_version'));
    const debTar = join(work, 'debian.tar');
    if (debian) execFileSync('tar', ['--numeric-owner', '-C', MINBASE, '-cf', debTar, '.']);
    else res.notes.push(`the debian workload is left out: no debootstrap tree at ${MINBASE} (debootstrap --variant=minbase bookworm ${MINBASE})`);
    res.notes.push('debian:bookworm is imported into both engines from the same debootstrap tree (not pulled from a registry): only the builds are timed');
    const setups: Array<(cb: (e: Engine) => void) => Promise<Engine>> = [
      (cb) => setupBerthWorker(work, tar, repo, cb), (cb) => setupBerth(work, tar, repo, cb), (cb) => setupPodman(work, tar, cb)];
    for (const setup of setups) {
      let made: Engine | undefined;
      const e = await setup((x) => { made = x; }).catch((err: Error) => {
        res.notes.push(`unavailable: ${err.message}`);
        if (made) void made.stop();
        return undefined;
      });
      if (!e) continue;
      if (debian) must(e, ['import', '-c', 'CMD ["/bin/bash"]', debTar, 'debian:bookworm']);
      engines.push(e);
      res.versions[e.name] = e.version;
      res.notes.push(...e.notes);
    }
    const podman = engines.find((e) => e.name === 'podman');
    if (!podman) throw new Error('podman is not available: nothing to compare with');
    const only = process.env.BENCH_WORKLOADS; // e.g. "copies,context": a subset
    for (const w of workloads(work, debian).filter((x) => !only || only.split(',').some((o) => x.dir.endsWith(`ctx-${o}`)))) {
      const row: Record<string, any> = {};
      for (const e of engines) {
        const build = (extra: string[] = []) => must(e, ['build', '-q', ...extra, '-t', `bench/${w.base}-${w.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}:1`, w.dir]).ms / 1000;
        log(`${w.name}: ${e.name} cold`);
        const cold = build(['--no-cache']);
        const unchanged: number[] = [];
        const changed: number[] = [];
        for (let i = 0; i < N; i++) { unchanged.push(build()); w.change(); changed.push(build()); }
        row[e.name] = { cold: round(cold), unchanged: round(median(unchanged)), changed: round(median(changed)) };
        log(`  ${JSON.stringify(row[e.name])}`);
      }
      for (const e of engines.filter((x) => x !== podman)) {
        const r = row[e.name];
        const p = row.podman;
        r.ratio = { cold: round(r.cold / p.cold, 2), unchanged: round(r.unchanged / p.unchanged, 2), changed: round(r.changed / p.changed, 2) };
      }
      res.results[w.name] = row;
    }
  } catch (err) {
    res.error = (err as Error).message;
    console.error(`build bench: ${(err as Error).stack ?? err}`);
    code = 1;
  } finally {
    for (const e of engines.reverse()) { try { await e.stop(); } catch (err) { console.error(`cleanup ${e.name}: ${(err as Error).message}`); } }
    rmSync(work, { recursive: true, force: true });
  }
  res.host.loadavgEnd = round(loadavg()[0]!, 2);
  const lines = [`| workload | engine | cold s | unchanged s | one file changed s | ratio vs podman (cold / unchanged / changed) |`, '|---|---|---|---|---|---|'];
  for (const [w, row] of Object.entries(res.results as Record<string, Record<string, any>>)) {
    for (const [name, r] of Object.entries(row)) lines.push(`| ${w} | ${name} | ${r.cold} | ${r.unchanged} | ${r.changed} | ${r.ratio ? `${r.ratio.cold} / ${r.ratio.unchanged} / ${r.ratio.changed}` : '—'} |`);
  }
  res.markdown = lines.join('\n');
  console.log(`\n## berth build benchmark, ${res.date} (kernel ${res.host.kernel}, ${res.host.cpus} CPUs, load ${res.host.loadavgStart} → ${res.host.loadavgEnd})\n`);
  for (const [k, v] of Object.entries(res.versions)) console.log(`- ${k}: ${v}`);
  for (const n of res.notes) console.log(`- note: ${n}`);
  console.log(`\ngoals: cold ≤ 0.7×, unchanged ≤ 0.3 s and ≤ 0.3×, one file changed ≤ 0.5× podman\n\n${res.markdown}\n`);
  const out = join(repo, 'bench', 'results', `build-${res.date.slice(0, 19).replace(/:/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(res, null, 1)}\n`);
  log(`results: ${out}`);
  return code;
}

main().then((c) => process.exit(c), (e) => { console.error(e); process.exit(1); });
