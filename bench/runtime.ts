/**
 * Benchmark: `run` of a busybox bundle (/bin/true) with berth-runtime, runc and crun side by side,
 * plus `node -e 0` as the floor of any Node program. Run as root:  node build/bench/runtime.js [N]
 * Target (issue 2): berth-runtime's time above node's own start-up <= runc's whole time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle } from '../test/helpers/bundle.js';
import { repoRoot } from '../test/helpers/probe.js';

const N = Number(process.argv[2] ?? 30);
const work = mkdtempSync(join(tmpdir(), 'berth-bench-'));
const bundle = makeBundle(join(work, 'bundle'), { process: { args: ['/bin/true'] }, linux: { resources: { devices: [{ allow: false, access: 'rwm' }] } } }, { probe: false });
// berth-runtime as callers run it: the native front (dist/berth-runtime), which runs Node with the
// arguments in its environment; `node berth-runtime.cjs` beside it shows what the front costs.
const front = join(repoRoot(), 'dist', 'berth-runtime');
const berth = join(repoRoot(), 'dist', 'berth-runtime.cjs');

interface Peer { name: string; cmd: (i: number) => string[] }
const peers: Peer[] = [
  { name: 'node -e 0', cmd: () => [process.execPath, '-e', '0'] },
  { name: 'berth-runtime', cmd: (i) => [front, '--root', join(work, 'berth'), 'run', '-b', bundle.dir, `b${i}`] },
  { name: 'node .cjs', cmd: (i) => [process.execPath, berth, '--root', join(work, 'berth'), 'run', '-b', bundle.dir, `n${i}`] },
];
if (existsSync('/usr/sbin/runc')) peers.push({ name: 'runc', cmd: (i) => ['/usr/sbin/runc', '--root', join(work, 'runc'), 'run', '-b', bundle.dir, `r${i}`] });
// crun refuses cgroup v1/hybrid hosts unless its cgroup manager is disabled.
if (existsSync('/usr/bin/crun')) peers.push({ name: 'crun', cmd: (i) => ['/usr/bin/crun', '--root', join(work, 'crun'), '--cgroup-manager=disabled', 'run', '-b', bundle.dir, `c${i}`] });

function timeOnce(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return ms;
}

// A peer that cannot run here is reported and left out (crun refuses hybrid cgroup hosts whose
// cgroup2 mount has a controller, as this kernel's hugetlb).
for (const p of [...peers]) {
  const r = spawnSync(p.cmd(-1)[0]!, p.cmd(-1).slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) { console.log(`  ${p.name}: unavailable here: ${(r.stderr || r.error?.message || '').trim()}`); peers.splice(peers.indexOf(p), 1); }
}
const samples = new Map<string, number[]>(peers.map((p) => [p.name, []]));
for (let i = 0; i < N + 2; i++) {
  for (const p of peers) {           // interleaved, so load changes hit every peer alike
    const ms = timeOnce(p.cmd(i));
    if (i >= 2) samples.get(p.name)!.push(ms); // two warm-up rounds
  }
}
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]!; };
const med = new Map([...samples].map(([k, v]) => [k, median(v)]));
console.log(`run of a busybox bundle (/bin/true), median of ${N}:`);
for (const [k, v] of med) console.log(`  ${k.padEnd(14)} ${v.toFixed(1)} ms`);
const above = med.get('berth-runtime')! - med.get('node -e 0')!;
console.log(`  berth-runtime above node start-up: ${above.toFixed(1)} ms`);
for (const peer of ['runc', 'crun']) if (med.has(peer)) console.log(`  ratio (berth - node) / ${peer}: ${(above / med.get(peer)!).toFixed(2)}  (target for runc: <= 1.00)`);
rmSync(work, { recursive: true, force: true });
