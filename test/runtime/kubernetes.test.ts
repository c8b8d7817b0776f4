/**
 * What containerd's CRI asks of an OCI runtime for Kubernetes pods (issue 12), berth-runtime alone:
 * every rootfsPropagation keyword runc accepts, and mount propagation really working with
 * `rshared` / `rslave` (containerd writes them for Bidirectional / HostToContainer hostPath mounts);
 * `exec -t --console-socket` with a socket that exists only on the host (`kubectl exec -it`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle, uniqueId, defaultMounts, DEFAULT_CAPS } from '../helpers/bundle.js';
import { consoleReceiver, Rt, waitFor } from '../helpers/runtime.js';

let rt: Rt;
const hostMounts: string[] = [];
before(() => { rt = new Rt('k8s'); });
after(() => {
  for (const m of hostMounts.reverse()) spawnSync('umount', ['-l', m]);
  rt.cleanup();
});

function sh(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A directory that is a shared mount of its own (as / is on a systemd host), like a pod's hostPath. */
function sharedHostDir(name: string): string {
  const dir = join(rt.work, name);
  mkdirSync(dir, { recursive: true });
  sh('mount', ['--bind', dir, dir]);
  hostMounts.push(dir);
  sh('mount', ['--make-shared', dir]);
  return dir;
}

function isMountPoint(path: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): boolean {
  return mountinfo.split('\n').some((l) => l.split(' ')[4] === path);
}

/** Start a sleeping container with `override` merged into the base config; returns its id. */
function startSleeper(name: string, override: object): string {
  const id = uniqueId(name);
  const caps = [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'];
  const b = makeBundle(join(rt.work, `${name}-bundle`), deepProcess(override, { args: ['/bin/sleep', '1000'], capabilities: { bounding: caps, effective: caps, permitted: caps } }));
  const c = rt.createTo(id, b.dir);
  assert.equal(c.result.status, 0, c.result.stderr);
  rt.ok(['start', id]);
  return id;
}

function deepProcess(override: any, process: object): object {
  return { ...override, process: { ...process, ...(override.process ?? {}) } };
}

test('every rootfsPropagation keyword runc accepts is accepted and applied to the container root', () => {
  for (const prop of ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']) {
    const b = makeBundle(join(rt.work, `p-${prop}`), { process: { args: ['/bin/grep', '-E', '^([^ ]+ ){4}/ ', '/proc/self/mountinfo'] }, linux: { rootfsPropagation: prop } });
    const r = rt.run(['run', '-b', b.dir, uniqueId(`p-${prop}`)]);
    assert.equal(r.status, 0, `${prop}: ${r.stderr}`);
    const fields = r.stdout.trim().split(' - ')[0]!;
    const base = prop.replace(/^r/, '');
    // The root is a bind of the rootfs made from a private mount (runc does the same), so a slave
    // root has no master: it only differs from a private one for the mounts below it.
    if (base === 'shared') assert.match(fields, /shared:\d+/, `${prop}: ${r.stdout}`);
    else if (base === 'unbindable') assert.match(fields, /unbindable/, `${prop}: ${r.stdout}`);
    else assert.doesNotMatch(fields, /shared:|unbindable/, `${prop}: ${r.stdout}`);
  }
  const bad = makeBundle(join(rt.work, 'p-bad'), { process: { args: ['/bin/true'] }, linux: { rootfsPropagation: 'rsharedx' } });
  const r = rt.run(['run', '-b', bad.dir, uniqueId('p-bad')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /linux\.rootfsPropagation: must be one of "private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", "runbindable"/);
});

/** A tmpfs mounted on the host under `host` (the container's /data) shows in the container. */
function hostMountReaches(host: string, id: string): void {
  mkdirSync(join(host, 'from-host'));
  sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(host, 'from-host')]);
  hostMounts.push(join(host, 'from-host'));
  writeFileSync(join(host, 'from-host', 'f'), 'made-on-host');
  assert.equal(rt.ok(['exec', id, '/bin/cat', '/data/from-host/f']).stdout, 'made-on-host', 'a host mount reaches the container');
}

test('rshared rootfs + rshared hostPath: mounts propagate host -> container and container -> host', async () => {
  const host = sharedHostDir('bidir');
  const id = startSleeper('bidir', {
    mounts: [...defaultMounts(), { destination: '/data', type: 'bind', source: host, options: ['rbind', 'rshared', 'rw'] }],
    linux: { rootfsPropagation: 'rshared' },
  });
  try {
    hostMountReaches(host, id);
    // container -> host
    rt.ok(['exec', id, '/bin/sh', '-c', 'mkdir /data/from-ctr && mount -t tmpfs -o size=1m tmpfs /data/from-ctr && echo made-in-ctr > /data/from-ctr/f']);
    hostMounts.push(join(host, 'from-ctr'));
    await waitFor(() => isMountPoint(join(host, 'from-ctr')), 2000, 'the container mount on the host');
    assert.equal(readFileSync(join(host, 'from-ctr', 'f'), 'utf8'), 'made-in-ctr\n');
  } finally {
    rt.run(['delete', '-f', id]);
  }
});

test('rslave rootfs + rslave hostPath: host mounts reach the container, container mounts stay inside', () => {
  const host = sharedHostDir('h2c');
  const id = startSleeper('h2c', {
    mounts: [...defaultMounts(), { destination: '/data', type: 'bind', source: host, options: ['rbind', 'rslave', 'rw'] }],
    linux: { rootfsPropagation: 'rslave' },
  });
  try {
    hostMountReaches(host, id);
    rt.ok(['exec', id, '/bin/sh', '-c', 'mkdir /data/from-ctr && mount -t tmpfs -o size=1m tmpfs /data/from-ctr && echo x > /data/from-ctr/f && grep -q " /data/from-ctr " /proc/self/mountinfo']);
    assert.ok(existsSync(join(host, 'from-ctr')), 'the directory is shared (same filesystem)');
    assert.ok(!isMountPoint(join(host, 'from-ctr')), 'the mount made in the container did not reach the host');
    assert.ok(!existsSync(join(host, 'from-ctr', 'f')));
  } finally {
    rt.run(['delete', '-f', id]);
  }
});


test('exec -t --console-socket: the socket exists only on the host (kubectl exec -it, ctr task exec -t)', async () => {
  const id = startSleeper('exectty', {});
  try {
    const sock = join(rt.work, 'exec-console.sock'); // not in the container's mount namespace
    const recv = await consoleReceiver(sock);
    const r = rt.run(['exec', '-t', '--console-socket', sock, id, '/bin/sh', '-c', 'tty; echo exec-tty-ok']);
    if (r.status !== 0) await recv.done;
    assert.equal(r.status, 0, r.stderr);
    await recv.done;
    assert.match(recv.out(), /name=\/dev\/pts\/\d+/);
    assert.match(recv.out(), /\/dev\/pts\/\d+\r?\n.*exec-tty-ok/s);
    // a detached exec (-d), as the shim runs it, too
    const sock2 = join(rt.work, 'exec-console2.sock');
    const recv2 = await consoleReceiver(sock2);
    const r2 = rt.run(['exec', '-d', '-t', '--console-socket', sock2, id, '/bin/echo', 'detached-tty-ok']);
    if (r2.status !== 0) await recv2.done;
    assert.equal(r2.status, 0, r2.stderr);
    await recv2.done;
    assert.match(recv2.out(), /detached-tty-ok/);
    // a socket nobody listens on: a clear error before anything runs in the container
    const r3 = rt.run(['exec', '-t', '--console-socket', join(rt.work, 'nobody.sock'), id, '/bin/true']);
    assert.notEqual(r3.status, 0);
    assert.match(r3.stderr, /console socket .*nobody\.sock.*(ENOENT|No such file)/);
  } finally {
    rt.run(['delete', '-f', id]);
  }
});

test('a new network namespace has lo up, as runc brings it up (a pod without CNI, ctr run)', () => {
  const b = makeBundle(join(rt.work, 'lo'), { process: { args: ['/bin/ip', 'link', 'show', 'lo'] } });
  const r = rt.run(['run', '-b', b.dir, uniqueId('lo')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
});

test('rro makes the whole mount tree read-only (Kubernetes recursiveReadOnly; berth-runtime features lists rro)', () => {
  const host = join(rt.work, 'rro-src');
  mkdirSync(join(host, 'sub'), { recursive: true });
  sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(host, 'sub')]);
  hostMounts.push(join(host, 'sub'));
  const b = makeBundle(join(rt.work, 'rro'), {
    process: { args: ['/bin/sh', '-c', 'touch /data/a 2>/dev/null && echo top-rw || echo top-ro; touch /data/sub/b 2>/dev/null && echo sub-rw || echo sub-ro; touch /rw/sub/c && echo rrw-ok'] },
    mounts: [...defaultMounts(),
      { destination: '/data', type: 'bind', source: host, options: ['rbind', 'rro'] },
      { destination: '/rw', type: 'bind', source: host, options: ['rbind', 'rrw'] }],
  });
  const r = rt.run(['run', '-b', b.dir, uniqueId('rro')]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['top-ro', 'sub-ro', 'rrw-ok']);
  assert.ok(existsSync(join(host, 'sub', 'c')));
  assert.ok(!existsSync(join(host, 'sub', 'b')) && !existsSync(join(host, 'a')));
});
