/**
 * Benchmark: pull from a local registry, side by side: berth, docker (dockerd from docker.io),
 * podman, and `curl | gunzip | tar -x` as the floor for the one-layer image.
 * Images: Debian minbase (one layer, debootstrap) and a 30-layer cut of it (bench/fixtures.ts).
 * Run as root:  node build/bench/pull.js [ROUNDS]     Target (issue 3): berth <= 0.85 x docker.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/probe.js';
import { startDockerd } from '../test/integration/daemon.js';
import { BENCH_DIR, pushFixtures, startRegistry } from './fixtures.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const berth = join(repoRoot(), 'dist', 'berth.cjs');

function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

function dropCaches(): void {
  execFileSync('sync');
  try { execFileSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']); } catch { /* not allowed */ }
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

async function main(): Promise<void> {
  const reg = await startRegistry();
  const refs = await pushFixtures(reg);
  const docker = existsSync('/usr/sbin/dockerd') ? await startDockerd('/usr/sbin/runc') : undefined;
  const podmanRoot = join(BENCH_DIR, 'podman');
  const berthRoot = join(BENCH_DIR, 'berth-root');
  const tarDir = join(BENCH_DIR, 'tar-x');
  try {
    for (const [name, ref] of Object.entries(refs)) {
      const results = new Map<string, number[]>();
      const add = (k: string, ms: number) => { results.set(k, [...(results.get(k) ?? []), ms]); };
      for (let i = 0; i < ROUNDS; i++) {
        rmSync(berthRoot, { recursive: true, force: true });
        dropCaches();
        add('berth', timed(process.execPath, [berth, 'pull', '-q', ref], { ...process.env, BERTH_ROOT: berthRoot }));
        if (docker) {
          const d = ['-H', `unix://${docker.sock}`];
          spawnSync('docker', [...d, 'rmi', '-f', ref], { stdio: 'ignore' });
          dropCaches();
          add('docker', timed('docker', [...d, 'pull', '-q', ref]));
        }
        if (existsSync('/usr/bin/podman')) {
          const p = ['--root', join(podmanRoot, 'root'), '--runroot', join(podmanRoot, 'run'), '--storage-driver', 'overlay'];
          spawnSync('podman', [...p, 'rmi', '-af'], { stdio: 'ignore' });
          dropCaches();
          add('podman', timed('podman', [...p, 'pull', '-q', '--tls-verify=false', ref]));
        }
        if (name === 'minbase') {
          const manifest = JSON.parse(execFileSync('curl', ['-fsS', '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', `http://${reg.addr}/v2/bench/minbase/manifests/latest`], { encoding: 'utf8' }));
          const digest = manifest.layers[0].digest;
          rmSync(tarDir, { recursive: true, force: true });
          mkdirSync(tarDir, { recursive: true });
          dropCaches();
          add('curl|gunzip|tar', timed('sh', ['-c', `curl -fsS http://${reg.addr}/v2/bench/minbase/blobs/${digest} | gunzip | tar -x -C ${tarDir}`]));
        }
      }
      console.log(`pull ${name} (${ref}), median of ${ROUNDS}:`);
      for (const [k, v] of results) console.log(`  ${k.padEnd(16)} ${(median(v) / 1000).toFixed(2)} s   (${v.map((x) => (x / 1000).toFixed(2)).join(', ')})`);
      const b = results.get('berth'), dk = results.get('docker'), pm = results.get('podman');
      if (b && dk) console.log(`  ratio berth / docker: ${(median(b) / median(dk)).toFixed(2)}  (target <= 0.85)`);
      if (b && pm) console.log(`  ratio berth / podman: ${(median(b) / median(pm)).toFixed(2)}`);
    }
  } finally {
    await docker?.stop();
    reg.stop();
    rmSync(berthRoot, { recursive: true, force: true });
    rmSync(tarDir, { recursive: true, force: true });
    try { execFileSync('podman', ['--root', join(podmanRoot, 'root'), '--runroot', join(podmanRoot, 'run'), 'rmi', '-af'], { stdio: 'ignore' }); } catch { /* none */ }
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
