/**
 * berth-runtime as a Kubernetes RuntimeClass (issue 12; docs/kubernetes.md): a private containerd
 * configured as the doc says (CRI runtime handler "berth": the runc v2 shim with BinaryName = the
 * berth-runtime front), its runc v2 shim driving berth-runtime with the config shapes containerd's
 * CRI writes.
 *
 * No CRI client (crictl/critest) is installed on this machine, so `ctr run --config` creates the
 * pod sandbox and the containers from OCI specs written in the shapes the CRI plugin of containerd
 * 1.6/1.7 produces: a pause-like sandbox (busybox sleep) with a pre-created network namespace
 * joined by path (as containerd pins it for CNI), containers joining the sandbox's
 * net/ipc/uts namespaces by /proc/<pause pid>/ns/* paths, cgroupfs cgroupsPaths under a pod
 * cgroup, rshared/rslave rootfs propagation with Bidirectional/HostToContainer hostPath mounts,
 * the /etc/hosts, /etc/hostname, /etc/resolv.conf, /dev/shm and /dev/termination-log binds.
 * What the CRI would ask through the shim is asked the same way: exec with a terminal through the
 * shim's console socket (`ctr task exec -t`, under a pty), exec without one, port-forward's join of
 * the sandbox network namespace (nsenter -t PID -n), stats (`ctr task metrics`); `update`
 * (UpdateContainerResources), which ctr 1.6 cannot send, runs `berth-runtime update --resources -`
 * as the shim does (go-runc), on the shim's runtime root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultMounts, DEFAULT_CAPS, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULT_PATH } from '../helpers/bundle.js';
import { BUSYBOX, busyboxRootfs } from '../helpers/rootfs.js';
import { runtimeBinary } from '../helpers/runtime.js';
import { haveBinary } from './daemon.js';

const NS = 'berth-cri';

function sh(cmd: string, args: string[], opts: { input?: string; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 30000, input: opts.input, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
}

function ok(cmd: string, args: string[], opts: { input?: string } = {}): string {
  const r = sh(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} (${r.status}): ${r.stderr}${r.error ? ` ${r.error}` : ''}`);
  return r.stdout;
}

/** Under a pseudo-terminal (script(1)), as a person typing `kubectl exec -it` would be. */
function inPty(cmdline: string) {
  return spawnSync('script', ['-qec', cmdline, '/dev/null'], { encoding: 'utf8', timeout: 30000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The containerd config docs/kubernetes.md gives (1.6/1.7, config version 2), on private paths. */
function containerdConfig(dir: string, sock: string, binary: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "${sock}"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "${dir}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth.options]
      BinaryName = "${binary}"
      SystemdCgroup = false
`;
}

const isCgroup2 = (): boolean => statfsSync('/sys/fs/cgroup').type === 0x63677270;

/** The host directory of a cgroupfs cgroupsPath for one controller (v1) or the unified tree (v2). */
function cgroupDir(path: string, controller: string): string {
  return isCgroup2() ? join('/sys/fs/cgroup', path) : join('/sys/fs/cgroup', controller, path);
}

/** Remove the (empty) pod and QoS cgroups kubelet would have made, on every hierarchy. */
function removeCgroupParents(paths: string[]): void {
  const roots = isCgroup2() ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((n) => join('/sys/fs/cgroup', n)).filter((p) => !lstatSync(p).isSymbolicLink());
  for (const root of roots) for (const p of paths) { try { rmdirSync(join(root, p)); } catch { /* absent */ } }
}

interface Pod { sandboxId: string; pid: number; hostname: string; cgroupParent: string; dir: string; oomFloor: number }

/** The spec containerd's CRI writes for a pod sandbox (the pause container), cgroupfs driver. */
function sandboxSpec(pod: Pod, rootfs: string, netns: string): object {
  return {
    ociVersion: '1.0.2-dev',
    process: {
      user: { uid: 65535, gid: 65535 }, args: ['/bin/sleep', '100000'], env: [DEFAULT_PATH], cwd: '/',
      capabilities: { bounding: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS] },
      // restrict_oom_score_adj = true: never below containerd's own (lowering needs CAP_SYS_RESOURCE)
      noNewPrivileges: true, oomScoreAdj: Math.max(-998, pod.oomFloor),
    },
    root: { path: rootfs, readonly: true },
    hostname: pod.hostname,
    mounts: [
      ...defaultMounts().filter((m) => m.destination !== '/dev/shm'),
      { destination: '/dev/shm', type: 'bind', source: join(pod.dir, 'shm'), options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    ],
    annotations: {
      'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': pod.sandboxId,
      'io.kubernetes.cri.sandbox-name': 'web', 'io.kubernetes.cri.sandbox-namespace': 'default',
    },
    linux: {
      sysctl: { 'net.ipv4.ip_unprivileged_port_start': '0' },
      resources: { devices: [{ allow: false, access: 'rwm' }], cpu: { shares: 2 } },
      cgroupsPath: `${pod.cgroupParent}/${pod.sandboxId}`,
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network', path: netns }],
      maskedPaths: [...DEFAULT_MASKED_PATHS], readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}

interface Volume { host: string; dest: string; propagation: 'rshared' | 'rslave' | 'rprivate' }

/** The spec containerd's CRI writes for a container of that pod. */
function containerSpec(pod: Pod, id: string, rootfs: string, o: { args: string[]; volumes: Volume[]; privileged?: boolean; resources?: object }): object {
  const caps = o.privileged ? [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'] : [...DEFAULT_CAPS];
  const props = o.volumes.map((v) => v.propagation);
  const rootfsPropagation = props.includes('rshared') ? 'rshared' : props.includes('rslave') ? 'rslave' : undefined;
  writeFileSync(join(pod.dir, `${id}.termination-log`), ''); // kubelet creates it
  const podFile = (name: string, dest: string) => ({ destination: dest, type: 'bind', source: join(pod.dir, name), options: ['rbind', 'rprivate', 'rw'] });
  return {
    ociVersion: '1.0.2-dev',
    process: {
      user: { uid: 0, gid: 0 }, args: o.args, env: [DEFAULT_PATH, `HOSTNAME=${pod.hostname}`], cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps }, oomScoreAdj: 1000,
    },
    root: { path: rootfs },
    mounts: [
      ...defaultMounts().filter((m) => m.destination !== '/dev/shm'),
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      ...o.volumes.map((v) => ({ destination: v.dest, type: 'bind', source: v.host, options: ['rbind', v.propagation, 'rw'] })),
      podFile('hosts', '/etc/hosts'), podFile('hostname', '/etc/hostname'), podFile('resolv.conf', '/etc/resolv.conf'),
      podFile('shm', '/dev/shm'), podFile(`${id}.termination-log`, '/dev/termination-log'),
    ],
    annotations: {
      'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.container-name': id, 'io.kubernetes.cri.sandbox-id': pod.sandboxId,
    },
    linux: {
      ...(rootfsPropagation ? { rootfsPropagation } : {}),
      resources: { devices: [{ allow: false, access: 'rwm' }], cpu: { shares: 2 }, ...(o.resources ?? {}) },
      cgroupsPath: `${pod.cgroupParent}/${id}`,
      namespaces: [
        { type: 'pid' }, { type: 'ipc', path: `/proc/${pod.pid}/ns/ipc` }, { type: 'uts', path: `/proc/${pod.pid}/ns/uts` },
        { type: 'mount' }, { type: 'network', path: `/proc/${pod.pid}/ns/net` },
      ],
      ...(o.privileged ? {} : { maskedPaths: [...DEFAULT_MASKED_PATHS], readonlyPaths: [...DEFAULT_READONLY_PATHS] }),
    },
  };
}

function isMountPoint(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('containerd CRI shapes: pod sandbox, containers joining it, propagation, exec (tty and not), port-forward, update, stats', { timeout: 90000 }, async (t) => {
  if (!haveBinary('/usr/bin/containerd') || !haveBinary('/usr/bin/ctr')) return t.skip('containerd is not installed');
  if (!haveBinary('/usr/bin/nsenter') || !haveBinary('/usr/bin/script')) return t.skip('nsenter/script (util-linux) are not installed');
  const work = mkdtempSync(join(tmpdir(), 'berth-cri-'));
  const sock = join(work, 'containerd.sock');
  const runcRoot = join(work, 'runc');
  const mounts: string[] = [];
  const cgParent = `/berth-cri-${process.pid}/besteffort/pod${process.pid}`;
  const cgParents = [cgParent, `/berth-cri-${process.pid}/besteffort`, `/berth-cri-${process.pid}`];
  const daemonLog = join(work, 'containerd.log');
  let daemon: ChildProcess | undefined;
  const ctr = (...a: string[]) => sh('/usr/bin/ctr', ['--address', sock, '-n', NS, ...a]);
  const ctrOk = (...a: string[]) => {
    const r = ctr(...a);
    assert.equal(r.status, 0, `ctr ${a.join(' ')}: ${r.stderr}\n${existsSync(daemonLog) ? readFileSync(daemonLog, 'utf8').slice(-1500) : ''}`);
    return r.stdout;
  };
  // `ctr task exec` can lose the output of a short process on a loaded machine (its client cancels
  // the I/O copy when the exit arrives); seen with both runtimes here. One retry, counted.
  let retries = 0;
  const execOut = (id: string, ...a: string[]): string => {
    for (let i = 0; ; i++) {
      const out = ctrOk('task', 'exec', '--exec-id', `x${Date.now().toString(36)}${i}`, id, ...a);
      if (out !== '' || i === 1) return out;
      retries++;
    }
  };
  const taskPid = (id: string): number => Number(new RegExp(`^${id}\\s+(\\d+)\\s+`, 'm').exec(ctrOk('task', 'ls'))?.[1]);
  const run = (id: string, spec: object, extra: string[] = []) => {
    const file = join(work, `${id}.json`);
    writeFileSync(file, JSON.stringify(spec, null, 2));
    return ctr('run', '-d', '--null-io', '--runc-binary', runtimeBinary(), '--runc-root', runcRoot, ...extra, '--config', file, id);
  };
  const ids: string[] = [];
  try {
    // the daemon, configured as the doc says
    const cfg = join(work, 'config.toml');
    writeFileSync(cfg, containerdConfig(work, sock, runtimeBinary()));
    const fd = openSync(daemonLog, 'w');
    daemon = spawn('/usr/bin/containerd', ['--config', cfg], { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    await until(() => existsSync(sock) || daemon!.exitCode !== null, 'the containerd socket', 20000);
    assert.ok(existsSync(sock), readFileSync(daemonLog, 'utf8').slice(-2000));
    // the socket is served before every plugin is loaded: wait for the CRI plugin's verdict
    let plugins = '';
    await until(() => /io\.containerd\.grpc\.v1\s+cri\s/.test(plugins = ctr('plugins', 'ls').stdout), 'the CRI plugin', 10000);
    assert.match(plugins, /io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/, 'the CRI plugin loads the runtime handler config');

    // the pod: its files, a shared hostPath (as / is shared on a systemd node), a pinned netns
    const oomFloor = Number(readFileSync(`/proc/${daemon.pid}/oom_score_adj`, 'utf8'));
    const pod: Pod = { sandboxId: 'sb1', pid: 0, hostname: 'web-pod', cgroupParent: cgParent, dir: join(work, 'pod'), oomFloor };
    mkdirSync(join(pod.dir, 'shm'), { recursive: true });
    writeFileSync(join(pod.dir, 'hosts'), '127.0.0.1 localhost\n');
    writeFileSync(join(pod.dir, 'hostname'), `${pod.hostname}\n`);
    writeFileSync(join(pod.dir, 'resolv.conf'), 'nameserver 127.0.0.53\n');
    const host = join(work, 'hostpath');
    mkdirSync(host);
    ok('mount', ['--bind', host, host]); mounts.push(host);
    ok('mount', ['--make-shared', host]);
    const nsDir = join(work, 'netns');
    mkdirSync(nsDir);
    ok('mount', ['--bind', nsDir, nsDir]); mounts.push(nsDir);
    ok('mount', ['--make-private', nsDir]);
    const netns = join(nsDir, 'cni-test');
    writeFileSync(netns, '');
    ok('unshare', [`--net=${netns}`, 'true']); mounts.push(netns);
    ok('nsenter', [`--net=${netns}`, BUSYBOX, 'ip', 'link', 'set', 'lo', 'up']); // what CNI's loopback plugin does

    // the sandbox (pause)
    const r0 = run(pod.sandboxId, sandboxSpec(pod, busyboxRootfs(join(work, 'rootfs-pause')), netns));
    assert.equal(r0.status, 0, r0.stderr + readFileSync(daemonLog, 'utf8').slice(-1500));
    ids.push(pod.sandboxId);
    pod.pid = taskPid(pod.sandboxId);
    assert.ok(pod.pid > 0);
    assert.equal(execOut(pod.sandboxId, '/bin/cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start').trim(), '0');

    // a privileged container with a Bidirectional hostPath (rshared) and one with HostToContainer (rslave) serving HTTP
    const r1 = run('app', containerSpec(pod, 'app', busyboxRootfs(join(work, 'rootfs-app')), {
      args: ['/bin/sleep', '100000'], privileged: true, volumes: [{ host, dest: '/data', propagation: 'rshared' }],
    }));
    assert.equal(r1.status, 0, r1.stderr);
    ids.push('app');
    const r2 = run('web', containerSpec(pod, 'web', busyboxRootfs(join(work, 'rootfs-web')), {
      args: ['/bin/sh', '-c', 'mkdir -p /tmp/www && echo pong > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'],
      volumes: [{ host, dest: '/data', propagation: 'rslave' }],
      resources: { memory: { limit: 64 << 20 }, cpu: { shares: 256, quota: 50000, period: 100000 } },
    }));
    assert.equal(r2.status, 0, r2.stderr);
    ids.push('web');
    const appPid = taskPid('app'), webPid = taskPid('web');
    for (const pid of [appPid, webPid]) {
      for (const ns of ['net', 'ipc', 'uts']) assert.equal(readlinkSync(`/proc/${pid}/ns/${ns}`), readlinkSync(`/proc/${pod.pid}/ns/${ns}`), `${ns} namespace of the sandbox`);
      assert.notEqual(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync(`/proc/${pod.pid}/ns/mnt`));
      assert.notEqual(readlinkSync(`/proc/${pid}/ns/pid`), readlinkSync(`/proc/${pod.pid}/ns/pid`));
    }
    assert.equal(readlinkSync(`/proc/${pod.pid}/ns/net`), ok('nsenter', [`--net=${netns}`, 'readlink', '/proc/self/ns/net']).trim(), 'the sandbox joined the pinned netns');

    // exec without a terminal
    assert.equal(execOut('web', '/bin/hostname').trim(), pod.hostname);
    assert.equal(execOut('web', '/bin/cat', '/etc/hostname', '/dev/termination-log').trim(), pod.hostname);
    // exec with a terminal: the shim's console socket exists only on the host
    const tty = inPty(`/usr/bin/ctr --address ${sock} -n ${NS} task exec -t --exec-id t1 web /bin/sh -c 'tty; echo tty-ok'`);
    assert.match(tty.stdout, /\/dev\/pts\/\d+/, tty.stdout + tty.stderr);
    assert.match(tty.stdout, /tty-ok/);

    // hostPath propagation: host -> both containers, app (rshared) -> host, web (rslave) stays inside
    mkdirSync(join(host, 'from-host'));
    ok('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(host, 'from-host')]); mounts.push(join(host, 'from-host'));
    writeFileSync(join(host, 'from-host', 'f'), 'made-on-host');
    assert.equal(execOut('app', '/bin/cat', '/data/from-host/f'), 'made-on-host');
    assert.equal(execOut('web', '/bin/cat', '/data/from-host/f'), 'made-on-host');
    ctrOk('task', 'exec', '--exec-id', 'p3', 'app', '/bin/sh', '-c', 'mkdir /data/from-app && mount -t tmpfs -o size=1m tmpfs /data/from-app && echo made-in-app > /data/from-app/f');
    mounts.push(join(host, 'from-app'));
    await until(() => isMountPoint(join(host, 'from-app')), 'the mount made in the rshared container on the host', 2000);
    assert.equal(readFileSync(join(host, 'from-app', 'f'), 'utf8'), 'made-in-app\n');
    assert.equal(execOut('web', '/bin/cat', '/data/from-app/f'), 'made-in-app\n', 'and on to the rslave one');

    // port-forward: join the sandbox's network namespace from the host and connect to the pod
    const fwd = `require('http').get('http://127.0.0.1:8080/index.html', (r) => { let b = ''; r.on('data', (d) => b += d); r.on('end', () => process.stdout.write(b)); }).on('error', (e) => { console.error(e.message); process.exit(1); })`;
    let got = '';
    await until(() => (got = sh('nsenter', ['-t', String(pod.pid), '-n', process.execPath, '-e', fwd]).stdout) === 'pong\n', 'the pod answering through its network namespace');
    assert.equal(got, 'pong\n');

    // update (UpdateContainerResources), as the shim runs it
    const res = { memory: { limit: 96 << 20 }, cpu: { shares: 512, quota: 100000, period: 100000 } };
    ok(runtimeBinary(), ['--root', join(runcRoot, NS), '--log', join(work, 'update.log'), '--log-format', 'json', 'update', '--resources', '-', 'web'], { input: JSON.stringify(res) });
    const webCg = `${pod.cgroupParent}/web`;
    if (isCgroup2()) {
      assert.equal(readFileSync(join(cgroupDir(webCg, ''), 'memory.max'), 'utf8').trim(), String(96 << 20));
      assert.equal(readFileSync(join(cgroupDir(webCg, ''), 'cpu.max'), 'utf8').trim(), '100000 100000');
    } else {
      assert.equal(readFileSync(join(cgroupDir(webCg, 'memory'), 'memory.limit_in_bytes'), 'utf8').trim(), String(96 << 20));
      assert.equal(readFileSync(join(cgroupDir(webCg, 'cpu'), 'cpu.cfs_quota_us'), 'utf8').trim(), '100000');
      assert.equal(readFileSync(join(cgroupDir(webCg, 'cpu'), 'cpu.shares'), 'utf8').trim(), '512');
    }
    // stats (the shim reads the task's cgroup)
    const metrics = ctrOk('task', 'metrics', 'web');
    assert.match(metrics, /pids\.current\s+[1-9]/, metrics);
    if (!isCgroup2()) {
      assert.match(metrics, /memory\.usage_in_bytes\s+[1-9]\d*/, metrics);
      assert.match(metrics, new RegExp(`memory\\.limit_in_bytes\\s+${96 << 20}`), metrics);
    }

    // SystemdCgroup = true: a clear error naming the way out
    const sd = run('sd', { ...containerSpec(pod, 'sd', join(work, 'rootfs-app'), { args: ['/bin/true'], volumes: [] }), linux: { cgroupsPath: 'kubepods-besteffort.slice:cri-containerd:sd', namespaces: [{ type: 'mount' }] } }, ['--runc-systemd-cgroup', '--cgroup', 'kubepods-besteffort.slice:cri-containerd:sd']);
    assert.notEqual(sd.status, 0);
    assert.match(sd.stderr, /systemd cgroup driver is not supported.*SystemdCgroup = false/, sd.stderr);
    t.diagnostic(`SystemdCgroup = true gives: ${sd.stderr.trim()}`);
    if (retries) t.diagnostic(`ctr task exec printed nothing ${retries} time(s); the retry did`);
    ctr('container', 'rm', 'sd');
  } finally {
    for (const id of ids.reverse()) { ctr('task', 'rm', '-f', id); ctr('container', 'rm', id); }
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await Promise.race([new Promise((r) => daemon!.once('exit', r)), new Promise((r) => setTimeout(r, 10000))]);
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    }
    for (const m of mounts.reverse()) sh('umount', ['-l', m]);
    for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((p): p is string => !!p && p.startsWith(work + '/')).sort((a, b) => b.length - a.length)) sh('umount', ['-l', m]);
    removeCgroupParents(cgParents);
    rmSync(work, { recursive: true, force: true });
  }
});
