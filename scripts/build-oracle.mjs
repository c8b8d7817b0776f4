#!/usr/bin/env node
// Rewrites the build corpus's expectations (test/build/corpus/expected/<case>.json) from the
// oracles on this machine — run by a maintainer after `npm run build`, as root; CI only compares.
//   node scripts/build-oracle.mjs [case-substring...]
// Each case names its oracle in its Dockerfile (`# corpus: oracle=...`, see test/build/corpus.ts):
//   docker  `DOCKER_BUILDKIT=0 docker build` on dockerd 20.10 (DOCKER_HOST, or a dockerd this script
//           starts on its own socket and data root and stops after)
//   podman  `podman build` (buildah) on a storage root of its own, with nproc/nofile ulimits
//   berth   neither oracle has the feature: berth's own result, to be checked by hand against
//           BuildKit (the case's note says what BuildKit does)
// Both oracles start from the very busybox image the tests use (`berth save busybox:latest` of the
// test fixture), so only the layers above it are recorded.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const need = join(root, 'build/test/build/corpus.js');
if (!existsSync(need)) { console.error('build first: npm run build'); process.exit(1); }
const { CORPUS, readCases, buildFlags, savedImages, above } = await import(need);
const { busyboxEngine } = await import(join(root, 'build/test/helpers/engine.js'));
const FRONT = join(root, 'dist/berth');

const filters = process.argv.slice(2);
const cases = readCases().filter((c) => !filters.length || filters.some((f) => c.name.includes(f)));
const tmp = mkdtempSync(join(tmpdir(), 'berth-oracle-'));
const big = { maxBuffer: 1 << 30 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const engine = await busyboxEngine();
const berthEnv = { ...engine.env, BERTH_NO_WORKER: '1' };
const berth = (args, o = {}) => execFileSync(FRONT, args, { env: berthEnv, ...big, ...o });
const busyboxTar = join(tmp, 'busybox.tar');
writeFileSync(busyboxTar, berth(['save', 'busybox:latest']));
const [bb] = await savedImages(execFileSync('cat', [busyboxTar], big));
const base = bb.layers[0];

let dockerd;
let dockerEnv;
async function docker() {
  if (dockerEnv) return dockerEnv;
  let host = process.env.DOCKER_HOST;
  if (!host) {
    const d = join(tmp, 'dockerd');
    mkdirSync(d);
    dockerd = spawn('dockerd', ['--host', `unix://${d}/sock`, '--data-root', `${d}/data`, '--exec-root', `${d}/exec`, '--pidfile', `${d}/pid`,
      '--bridge', 'none', '--iptables=false', '--ip-masq=false'], { stdio: 'ignore' });
    host = `unix://${d}/sock`;
    for (let i = 0; i < 100 && !existsSync(`${d}/sock`); i++) await sleep(100);
  }
  dockerEnv = { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' };
  execFileSync('docker', ['load', '-i', busyboxTar], { env: dockerEnv, stdio: 'ignore' });
  return dockerEnv;
}

let podmanArgs;
function podman() {
  if (podmanArgs) return podmanArgs;
  const d = join(tmp, 'podman');
  mkdirSync(d);
  writeFileSync(join(d, 'containers.conf'), '[containers]\ndefault_ulimits = ["nproc=4096:4096", "nofile=4096:4096"]\n');
  podmanArgs = { pre: ['--root', `${d}/root`, '--runroot', `${d}/run`, '--runtime', 'runc', '--cgroup-manager', 'cgroupfs'], env: { ...process.env, CONTAINERS_CONF: join(d, 'containers.conf') } };
  execFileSync('podman', [...podmanArgs.pre, 'load', '-i', busyboxTar], { env: podmanArgs.env, stdio: 'ignore' });
  return podmanArgs;
}

const ORACLE_NAME = {
  docker: () => `classic docker build (DOCKER_BUILDKIT=0, dockerd ${execFileSync('docker', ['version', '-f', '{{.Server.Version}}'], { env: dockerEnv }).toString().trim()})`,
  podman: () => `podman build (${execFileSync('podman', ['--version']).toString().trim()})`,
  berth: () => 'berth, checked by hand against BuildKit (no oracle on this machine has the feature)',
};

// What buildah leaves in its layers and BuildKit does not (the oracles disagree: BuildKit is followed).
const PODMAN_NOTE = 'buildah\'s leftovers dropped from its layers, BuildKit leaves none: its empty mount-point files '
  + '(etc/hosts, etc/hostname, etc/resolv.conf) and directories left with nothing in them (run, run/secrets, mount targets), '
  + 'its io.buildah.version label; no podman case makes an empty directory itself';
const STUBS = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf']);
function unstub(layers, config) {
  if (config.Labels) {
    delete config.Labels['io.buildah.version'];
    if (!Object.keys(config.Labels).length) delete config.Labels;
  }
  const out = layers.map((l) => {
    let lines = l.filter((e) => { const [p, type, , , size] = e.split(' '); return !(STUBS.has(p) && type === 'file' && size === '0'); });
    for (;;) {
      const paths = lines.map((e) => e.split(' ')[0]);
      const next = lines.filter((e) => { const [p, type] = e.split(' '); return type !== 'directory' || paths.some((q) => q.startsWith(`${p}/`)); });
      if (next.length === lines.length) break;
      lines = next;
    }
    return lines;
  }).filter((l) => l.length);
  return { layers: out };
}

let failed = 0;
try {
  for (const c of cases) {
    const tag = `berth-oracle/${c.name}:1`;
    let archive;
    try {
      if (c.oracle === 'docker') {
        const env = await docker();
        execFileSync('docker', ['build', '-q', ...buildFlags(c), '-t', tag, c.dir], { env, stdio: ['ignore', 'ignore', 'pipe'] });
        archive = execFileSync('docker', ['save', tag], { env, ...big });
      } else if (c.oracle === 'podman') {
        const p = podman();
        execFileSync('podman', [...p.pre, 'build', '-q', '--layers', ...buildFlags(c), '-t', tag, c.dir], { env: p.env, stdio: ['ignore', 'ignore', 'inherit'] });
        const out = join(tmp, `${c.name}.tar`);
        execFileSync('podman', [...p.pre, 'save', '--format', 'docker-archive', '-o', out, tag], { env: p.env, stdio: 'ignore' });
        archive = execFileSync('cat', [out], big);
      } else {
        berth(['build', '-q', ...buildFlags(c), '-t', tag, c.dir], { stdio: ['ignore', 'ignore', 'inherit'] });
        archive = berth(['save', tag]);
      }
    } catch (e) {
      failed++;
      console.error(`${c.name}: the oracle failed: ${e.message}`);
      continue;
    }
    const [img] = await savedImages(archive);
    let layers = above(img.layers, base);
    let note = c.note;
    if (c.oracle === 'podman') {
      ({ layers } = unstub(layers, img.config));
      note = [note, PODMAN_NOTE].filter(Boolean).join('; ');
    }
    const expected = { oracle: ORACLE_NAME[c.oracle](), ...(note ? { note } : {}), config: img.config, layers };
    mkdirSync(join(CORPUS, 'expected'), { recursive: true });
    writeFileSync(join(CORPUS, 'expected', `${c.name}.json`), `${JSON.stringify(expected, null, 1)}\n`);
    console.log(`${c.name}: ${expected.layers.length} layers (${c.oracle})`);
  }
} finally {
  if (podmanArgs) try { execFileSync('podman', [...podmanArgs.pre, 'system', 'reset', '-f'], { env: podmanArgs.env, stdio: 'ignore' }); } catch { /* best effort */ }
  if (dockerd) { dockerd.kill('SIGTERM'); await new Promise((r) => dockerd.once('exit', r)); }
  await engine.cleanup();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
