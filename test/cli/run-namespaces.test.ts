/**
 * `berth run` namespace modes through the real CLI, checked by namespace identity
 * (/proc/self/ns/*) and by what the container sees: --network none|host|container:,
 * --pid host|container:, --ipc host|private|container:, --uts host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { cannotRun, mountsUnder, withCli } from './run-util.js';

const skip = cannotRun();

/** Interface names in /proc/net/dev text. */
function ifaces(netDev: string): string[] {
  return netDev.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();
}

test('--network none: only lo (up); --network host: the host\'s interfaces and namespace', { skip }, () => withCli(async (c) => {
  const none = await c.ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'cat /proc/net/dev; echo ---; ip -o link']);
  const [dev, links] = none.split('\n---\n');
  assert.deepEqual(ifaces(dev!), ['lo']);
  assert.match(links!, /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
  // the default is none too (this engine has no bridge network)
  assert.deepEqual(ifaces(await c.ok(['run', '--rm', 'busybox', 'cat', '/proc/net/dev'])), ['lo']);
  const host = await c.ok(['run', '--rm', '--network', 'host', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/net; cat /proc/net/dev']);
  const [ns, ...rest] = host.split('\n');
  assert.equal(ns, readlinkSync('/proc/self/ns/net'));
  assert.deepEqual(ifaces(rest.join('\n')), ifaces(readFileSync('/proc/net/dev', 'utf8')));
}));

test('--network container:NAME shares the running container\'s namespace; a stopped or missing one is refused', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'netowner', 'busybox', 'sleep', '60']);
  const owner = await c.ok(['exec', 'netowner', 'readlink', '/proc/self/ns/net']);
  assert.equal(await c.ok(['run', '--rm', '--network', 'container:netowner', 'busybox', 'readlink', '/proc/self/ns/net']), owner);
  const own = await c.ok(['run', '--rm', 'busybox', 'readlink', '/proc/self/ns/net']);
  assert.notEqual(own, owner, 'a default container has a namespace of its own');
  assert.notEqual(own, readlinkSync('/proc/self/ns/net'));

  await c.ok(['create', '--name', 'stopped', 'busybox', 'true']);
  const before = await c.ids();
  let r = await c.berth(['run', '--rm', '--network', 'container:stopped', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.err, /stopped.*not running|not running.*stopped/);
  r = await c.berth(['run', '--rm', '--network', 'container:nosuch', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.err, /No such container: nosuch/);
  assert.deepEqual(await c.ids(), before, 'nothing left behind');
  await c.ok(['rm', '-f', 'netowner']);
}));

test('--pid host sees the host\'s processes; --pid container:NAME the other container\'s; default: its own', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', '--pid', 'host', 'busybox', 'sh', '-c', `test -d /proc/${process.pid} && echo sees-test; readlink /proc/self/ns/pid`]),
    `sees-test\n${readlinkSync('/proc/self/ns/pid')}`);
  assert.equal(await c.ok(['run', '--rm', 'busybox', 'sh', '-c', `echo $$; test -d /proc/${process.pid} || echo isolated`]), process.pid === 1 ? '1' : '1\nisolated');
  await c.ok(['run', '-d', '--name', 'pidowner', 'busybox', 'sleep', '60']);
  const ps = await c.ok(['run', '--rm', '--pid', 'container:pidowner', 'busybox', 'cat', '/proc/1/cmdline']);
  assert.equal(ps.replace(/\0/g, ' ').trim(), 'sleep 60');
  await c.ok(['rm', '-f', 'pidowner']);
}));

test('--ipc host shares the host\'s IPC namespace; the default is private', { skip }, () => withCli(async (c) => {
  const hostIpc = readlinkSync('/proc/self/ns/ipc');
  assert.equal(await c.ok(['run', '--rm', '--ipc', 'host', 'busybox', 'readlink', '/proc/self/ns/ipc']), hostIpc);
  assert.notEqual(await c.ok(['run', '--rm', 'busybox', 'readlink', '/proc/self/ns/ipc']), hostIpc);
  const shm = await c.ok(['run', '--rm', '--shm-size', '8m', 'busybox', 'sh', '-c', 'grep " /dev/shm " /proc/mounts | cut -d" " -f3,4']);
  assert.match(shm, /^tmpfs .*size=8192k/);
}));

test('--ipc container:NAME joins a shareable container\'s IPC namespace and /dev/shm (a tmpfs on the host, gone with it); a private one is refused', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--name', 'ipcowner', '--ipc', 'shareable', '--shm-size', '4m', 'busybox', 'sh', '-c', 'echo owner > /dev/shm/mark; exec sleep 60']);
  const owner = await c.ok(['exec', 'ipcowner', 'readlink', '/proc/self/ns/ipc']);
  assert.match(await c.ok(['exec', 'ipcowner', 'sh', '-c', 'grep " /dev/shm " /proc/mounts | cut -d" " -f3,4']), /^tmpfs .*size=4096k/);
  const r = await c.berth(['run', '--rm', '--ipc', 'container:ipcowner', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/ipc; cat /dev/shm/mark; echo joiner > /dev/shm/back']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${owner}\nowner\n`);
  assert.equal(await c.ok(['exec', 'ipcowner', 'cat', '/dev/shm/back']), 'joiner');
  assert.equal(mountsUnder(c.runRoot).filter((m) => m.endsWith(`${id}/shm`)).length, 1, 'the shm tmpfs is on the host');
  await c.ok(['run', '-d', '--name', 'ipcprivate', 'busybox', 'sleep', '60']);
  const bad = await c.berth(['run', '--rm', '--ipc', 'container:ipcprivate', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.err, /non-shareable IPC/);
  await c.ok(['rm', '-f', 'ipcowner', 'ipcprivate']);
  assert.deepEqual(c.leftovers(id), []);
  assert.deepEqual(mountsUnder(c.runRoot), []);
}));

test('--uts host: the host\'s hostname; --hostname with it is refused', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', '--uts', 'host', 'busybox', 'hostname']), hostname());
  const r = await c.berth(['run', '--rm', '--uts', 'host', '--hostname', 'x', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.err, /conflicting options: hostname and the UTS mode/i);
}));
