/**
 * Rootless berth vs rootless podman (issue 17), side by side, as ratios — never a timed test.
 * Both run as one real unprivileged user made here (useradd, subordinate ids 100000-165535 style
 * range of its own, removed at the end) through runuser, with their default rootless networks
 * (berth: pasta; podman 4.3: slirp4netns + rootlessport):
 *   a. `run --rm IMAGE true`, median of N                                  goal <= 0.5x podman
 *      (and with --network none, which leaves the network out)
 *   b. pull of a busybox + python3-library image (one layer, ~60 MB) from a local registry,
 *      each image removed before each round (berth rmi / podman rmi -af: blobs and layers collected,
 *      the storage itself kept)                                             goal <= 0.85x podman
 *   c. a published port on 127.0.0.1: download of 256 MiB from busybox httpd, both servers up,
 *      the peers' downloads alternating                                     goal >= podman's
 * Run as root after `npm run build`:  node build/bench/rootless.js   (BENCH_RL_N=10 runs of (a),
 * BENCH_RL_ROUNDS=3 rounds of (b), BENCH_RL_TPUT_ROUNDS=9 downloads per peer of (c)). /dev/net/tun is made 0666 for the run and restored.
 * Results: bench/results/rootless-DATE.json, with the load average before and after.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from '../test/helpers/probe.js';
import { busyboxRootfs } from '../test/helpers/rootfs.js';
import { freePort } from '../test/helpers/registry.js';
import { ociLayout, startRegistry } from './fixtures.js';

const N = Number(process.env.BENCH_RL_N ?? 10);
/** BENCH_RL_NO_WORKER=1: a Node process per berth command instead of the user's warm process (the default, as users run it). */
const NO_WORKER = !!process.env.BENCH_RL_NO_WORKER;
const ROUNDS = Number(process.env.BENCH_RL_ROUNDS ?? 3);
/** downloads of (c) per peer, alternating */
const TPUT_ROUNDS = Number(process.env.BENCH_RL_TPUT_ROUNDS ?? 9);
const FRONT = join(repoRoot(), 'dist', 'berth');
const user = `brb${Math.random().toString(36).slice(2, 7)}`;
const BASE = 900000 + Math.floor(Math.random() * 50) * 70000;
let uid = 0, home = '';

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

function env(): string[] {
  return [`HOME=${home}`, `USER=${user}`, `PATH=${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, ...(NO_WORKER ? ['BERTH_NO_WORKER=1'] : []), 'LANG=C',
    `XDG_RUNTIME_DIR=/tmp/brb-run-${uid}`];
}

/** A command as the user, timed; throws with its stderr unless it exits 0 (a failing peer looks fast). */
function as(argv: string[], ok = true): { ms: number; out: string; err: string; code: number | null } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('runuser', ['-u', user, '--', 'env', '-i', ...env(), ...argv], { encoding: 'utf8', cwd: '/tmp', maxBuffer: 1 << 26 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (ok && r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  return { ms, out: r.stdout, err: r.stderr, code: r.status };
}

// crun refuses this machine's hybrid cgroup layout ("cgroups in hybrid mode not supported"): runc
const PODMAN = ['podman', '--cgroup-manager=cgroupfs', '--events-backend=file', '--runtime', 'runc'];
const berth = (args: string[], ok = true) => as([FRONT, ...args], ok);
const podman = (args: string[], ok = true) => as([...PODMAN, ...args], ok);

async function main(): Promise<void> {
  const load0 = loadavg();
  const tunMode = statSync('/dev/net/tun').mode & 0o777;
  const work = mkdtempSync('/var/tmp/berth-bench-rootless-');
  let reg: Awaited<ReturnType<typeof startRegistry>> | undefined;
  const out: Record<string, unknown> = { date: new Date().toISOString(), load_before: load0 };
  try {
    chmodSync('/dev/net/tun', 0o666);
    execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);
    for (const f of ['/etc/subuid', '/etc/subgid']) execFileSync('sed', ['-i', `/^${user}:/d`, f]);
    execFileSync('usermod', ['--add-subuids', `${BASE}-${BASE + 65535}`, '--add-subgids', `${BASE}-${BASE + 65535}`, user]);
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    home = `/home/${user}`;
    mkdirSync(`/tmp/brb-run-${uid}`, { mode: 0o700 });
    execFileSync('chown', [`${uid}:${uid}`, `/tmp/brb-run-${uid}`]);
    mkdirSync(join(home, '.config/containers'), { recursive: true });
    // podman's rootless defaults raise nofile/nproc beyond what runuser's session may hold
    writeFileSync(join(home, '.config/containers/containers.conf'), '[containers]\ndefault_ulimits = []\n');
    execFileSync('chown', ['-R', `${uid}:${uid}`, join(home, '.config')]);

    // the image: busybox + python3's library (many files), one gzip layer, pushed to a local registry
    const fs = join(work, 'fs');
    busyboxRootfs(fs);
    cpSync('/usr/lib/python3.11', join(fs, 'usr/lib/python3.11'), { recursive: true });
    const gz = join(work, 'layer.tar.gz');
    execFileSync('sh', ['-c', `tar -C '${fs}' --owner=0 --group=0 --numeric-owner -cf - . | gzip -6 > '${gz}'`]);
    await ociLayout(join(work, 'oci'), [gz]);
    reg = await startRegistry(await freePort());
    const ref = `${reg.addr}/bench/rootless:latest`;
    execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${join(work, 'oci')}:latest`, `docker://${ref}`]);
    podman(['system', 'migrate'], false);
    const versions = { podman: podman(['version', '--format', '{{.Client.Version}}']).out.trim(), pasta: spawnSync('pasta', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] };
    out.versions = versions;
    out.notes = ['podman: --runtime runc (crun: cgroups in hybrid mode not supported), --cgroup-manager=cgroupfs, --events-backend=file, default_ulimits = []', NO_WORKER ? 'berth: BERTH_NO_WORKER=1 (no warm process), the native front dist/berth' : 'berth: the native front dist/berth, served by the user\'s warm process (started by its first command, as users run it)'];

    // b. pull
    const pull: Record<string, number[]> = { berth: [], podman: [] };
    berth(['info'], false); // the data root made once, as podman's storage is (system migrate above)
    const dataRoot = join(home, '.local/share/berth');
    for (let i = 0; i < ROUNDS; i++) {
      // as podman's: the image removed (its blobs and layers collected), the storage kept
      berth(['rmi', '-f', ref], false);
      const count = (d: string) => { try { return readdirSync(join(dataRoot, d)).length; } catch { return 0; } };
      const left = count('content/blobs/sha256') + count('snapshots/snapshots');
      if (left) throw new Error(`berth rmi left ${left} blobs or snapshots in ${dataRoot}: the pull would not start empty`);
      execFileSync('sync');
      pull.berth!.push(berth(['pull', '-q', ref]).ms);
      podman(['rmi', '-af'], false);
      execFileSync('sync');
      pull.podman!.push(podman(['pull', '-q', '--tls-verify=false', ref]).ms);
    }
    out.pull = { ...pull, ratio: median(pull.berth!) / median(pull.podman!) };
    console.log(`pull (${ref}), median of ${ROUNDS}: berth ${median(pull.berth!).toFixed(0)} ms, podman ${median(pull.podman!).toFixed(0)} ms, ratio ${(median(pull.berth!) / median(pull.podman!)).toFixed(2)} (goal <= 0.85)`);

    // a. run --rm
    const run: Record<string, number[]> = {};
    for (const [label, extra] of [['default', []], ['none', ['--network', 'none']]] as const) {
      berth(['run', '--rm', ...extra, ref, 'true']); podman(['run', '--rm', ...extra, ref, 'true']); // warm
      const b: number[] = [], p: number[] = [];
      for (let i = 0; i < N; i++) {
        b.push(berth(['run', '--rm', ...extra, ref, 'true']).ms);
        p.push(podman(['run', '--rm', ...extra, ref, 'true']).ms);
      }
      run[`berth-${label}`] = b; run[`podman-${label}`] = p;
      console.log(`run --rm (network ${label}), median of ${N}: berth ${median(b).toFixed(0)} ms, podman ${median(p).toFixed(0)} ms, ratio ${(median(b) / median(p)).toFixed(2)} (goal <= 0.5)`);
    }
    out.run = { ...run, ratio_default: median(run['berth-default']!) / median(run['podman-default']!), ratio_none: median(run['berth-none']!) / median(run['podman-none']!) };

    // c. published port throughput
    const tput: Record<string, number[]> = { berth: [], podman: [] };
    // both servers up at once, the downloads alternating (one peer's rounds never all fall in a quiet or a busy spell)
    const ports: Record<string, number> = {};
    try {
      for (const [name, cli] of [['berth', berth], ['podman', podman]] as const) {
        const port = ports[name] = await freePort();
        cli(['run', '-d', '--name', 'rl-bench-web', '-p', `127.0.0.1:${port}:80`, ref, 'sh', '-c', 'mkdir /w && dd if=/dev/zero of=/w/big bs=1M count=256 2>/dev/null && exec httpd -f -p 80 -h /w']);
        for (let i = 0; i < 100; i++) {
          if (spawnSync('curl', ['-fsS', '-o', '/dev/null', '-r', '0-0', `http://127.0.0.1:${port}/big`]).status === 0) break;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      for (let i = 0; i < TPUT_ROUNDS; i++) {
        for (const name of ['berth', 'podman']) {
          const r = spawnSync('curl', ['-fsS', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', `http://127.0.0.1:${ports[name]}/big`], { encoding: 'utf8' });
          const [size, secs] = r.stdout.trim().split(' ').map(Number);
          if (r.status !== 0 || size !== 256 << 20) throw new Error(`${name}: download: exit ${r.status}, ${size} bytes: ${r.stderr}`);
          tput[name]!.push((size! * 8) / secs! / 1e9);
        }
      }
    } finally { berth(['rm', '-f', 'rl-bench-web'], false); podman(['rm', '-f', 'rl-bench-web'], false); }
    out.port_gbit_s = { ...tput, ratio: median(tput.berth!) / median(tput.podman!) };
    console.log(`published port 127.0.0.1, 256 MiB download, median of ${TPUT_ROUNDS}: berth ${median(tput.berth!).toFixed(2)} Gbit/s, podman ${median(tput.podman!).toFixed(2)} Gbit/s, ratio ${(median(tput.berth!) / median(tput.podman!)).toFixed(2)} (goal >= 1)`);
  } finally {
    out.load_after = loadavg();
    console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    if (uid) { berth(['rm', '-f', 'rl-bench-web'], false); podman(['rm', '-af', '-t', '0'], false); podman(['rmi', '-af'], false); }
    chmodSync('/dev/net/tun', tunMode);
    reg?.stop();
    if (uid) {
      spawnSync('pkill', ['-KILL', '-u', user]); // only the processes of the user this bench made
      spawnSync('userdel', ['-r', '-f', user]);
      for (const f of ['/etc/subuid', '/etc/subgid']) spawnSync('sed', ['-i', `/^${user}:/d`, f]);
      rmSync(`/tmp/brb-run-${uid}`, { recursive: true, force: true });
      rmSync(`/tmp/berth-run-${uid}`, { recursive: true, force: true });
    }
    rmSync(work, { recursive: true, force: true });
  }
  const file = join(repoRoot(), 'bench', 'results', `rootless-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`results: ${file}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
