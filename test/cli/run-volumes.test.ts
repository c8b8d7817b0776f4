/**
 * `berth run` storage through the real CLI: named and anonymous volumes, bind mounts (rw and ro),
 * `--mount type=tmpfs`, `--volumes-from`, `rm -v`, an image VOLUME with copy-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { cannotRun, withCli } from './run-util.js';

const skip = cannotRun();

interface MountJson { Type: string; Name?: string; Source: string; Destination: string; RW: boolean }

async function mountsOf(c: { ok(a: string[]): Promise<string> }, ref: string): Promise<MountJson[]> {
  return JSON.parse(await c.ok(['inspect', '-f', '{{json .Mounts}}', ref])) as MountJson[];
}

test('a named volume persists across containers (and --rm keeps it); image content is copied into it', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '--rm', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/f']);
  assert.equal(await c.ok(['run', '--rm', '-v', 'data:/data', 'busybox', 'cat', '/data/f']), 'persisted');
  assert.equal(readFileSync(join(c.root, 'volumes/data/_data/f'), 'utf8'), 'persisted\n', 'the data lives in the volume directory');
  // an empty named volume over an image directory gets that directory's content (copy-up)
  assert.match(await c.ok(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'head', '-1', '/etc/passwd']), /^root:x:0:0:/);
  assert.ok(existsSync(join(c.root, 'volumes/etcvol/_data/passwd')));
}));

test('an anonymous volume: inspect shows it; rm keeps it, rm -v and --rm remove it', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['create', '-v', '/data', 'busybox', 'sh', '-c', 'echo x > /data/y']);
  assert.equal((await c.berth(['start', '-a', id])).code, 0);
  const [m] = await mountsOf(c, id);
  assert.equal(m?.Type, 'volume');
  assert.match(m!.Name!, /^[0-9a-f]{64}$/);
  assert.equal(m!.Destination, '/data');
  assert.equal(m!.RW, true);
  const dir = join(c.root, 'volumes', m!.Name!);
  assert.equal(readFileSync(join(dir, '_data/y'), 'utf8'), 'x\n');
  await c.ok(['rm', '-v', id]);
  assert.ok(!existsSync(dir), 'rm -v removed the anonymous volume');

  const keep = await c.ok(['create', '-v', '/data', 'busybox', 'true']);
  const kept = (await mountsOf(c, keep))[0]!.Name!;
  await c.ok(['rm', keep]);
  assert.ok(existsSync(join(c.root, 'volumes', kept)), 'rm without -v keeps it');

  const tmp = mkdtempSync(join(tmpdir(), 'berth-cid-'));
  try {
    const cid = join(tmp, 'cid');
    await c.ok(['run', '--rm', '--cidfile', cid, '-v', '/anon', '-v', 'named:/named', 'busybox', 'sh', '-c', 'touch /anon/a /named/n']);
    assert.ok(existsSync(join(c.root, 'volumes/named/_data/n')), '--rm keeps named volumes');
    const left = execFileSync('ls', [join(c.root, 'volumes')], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    assert.deepEqual(left, [kept, 'named'].sort(), '--rm removed its anonymous volume');
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}));

test('a bind mount: the container\'s writes reach the host', { skip }, () => withCli(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bind-'));
  try {
    writeFileSync(join(dir, 'h'), 'hostfile\n');
    assert.equal(await c.ok(['run', '--rm', '-v', `${dir}:/x`, 'busybox', 'sh', '-c', 'cat /x/h; echo fromc > /x/new']), 'hostfile');
    assert.equal(readFileSync(join(dir, 'new'), 'utf8'), 'fromc\n');
    assert.equal(await c.ok(['run', '--rm', '--mount', `type=bind,src=${dir},dst=/y`, 'busybox', 'cat', '/y/new']), 'fromc');
  } finally { rmSync(dir, { recursive: true, force: true }); }
}));

test('a read-only bind mount (-v dir:/x:ro, --mount readonly) refuses writes', {
  skip,
}, () => withCli(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bind-'));
  try {
    writeFileSync(join(dir, 'h'), 'hostfile\n');
    for (const flag of [['-v', `${dir}:/x:ro`], ['--mount', `type=bind,src=${dir},dst=/x,readonly`]]) {
      const r = await c.berth(['run', '--rm', ...flag, 'busybox', 'sh', '-c', 'cat /x/h; echo y > /x/new; echo "rc=$?"']);
      assert.equal(r.out, 'hostfile\nrc=1\n', `${flag.join(' ')}: ${r.err}`);
      assert.match(r.err, /Read-only file system/);
      assert.ok(!existsSync(join(dir, 'new')), 'nothing written on the host');
    }
    const v = await c.berth(['run', '--rm', '-v', 'rovol:/x:ro', 'busybox', 'sh', '-c', 'touch /x/f; echo "rc=$?"']);
    assert.equal(v.out, 'rc=1\n', 'a read-only volume too');
  } finally { rmSync(dir, { recursive: true, force: true }); }
}));

test('--mount type=tmpfs with tmpfs-size: a tmpfs of that size', { skip }, () => withCli(async (c) => {
  const r = await c.berth(['run', '--rm', '--mount', 'type=tmpfs,destination=/t,tmpfs-size=1m', 'busybox', 'sh', '-c',
    'grep " /t " /proc/mounts | cut -d" " -f3,4; dd if=/dev/zero of=/t/f bs=1k count=2048 2>/dev/null; echo "rc=$?"; du -k /t/f | cut -f1']);
  const [fs, rc, size] = r.out.trim().split('\n');
  assert.match(fs!, /^tmpfs rw,.*size=1024k/);
  assert.equal(rc, 'rc=1', 'a 2 MiB write does not fit');
  assert.equal(size, '1024');
}));

test('--volumes-from: the other container\'s volumes and binds', { skip }, () => withCli(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bind-'));
  try {
    writeFileSync(join(dir, 'h'), 'hostfile\n');
    await c.ok(['run', '--name', 'src', '-v', 'shared:/shared', '-v', `${dir}:/b`, 'busybox', 'sh', '-c', 'echo s > /shared/s']);
    assert.equal(await c.ok(['run', '--rm', '--volumes-from', 'src', 'busybox', 'sh', '-c', 'cat /shared/s /b/h; echo w > /shared/w']), 's\nhostfile');
    assert.ok(existsSync(join(c.root, 'volumes/shared/_data/w')), 'rw by default');
  } finally { rmSync(dir, { recursive: true, force: true }); }
}));

test('--volumes-from c:ro: read-only', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '--name', 'src', '-v', 'shared:/shared', 'busybox', 'true']);
  const r = await c.berth(['run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'sh', '-c', 'echo z > /shared/z; echo "rc=$?"']);
  assert.equal(r.out, 'rc=1\n');
  assert.match(r.err, /Read-only file system/);
}));

test('an image VOLUME: an anonymous volume with the image\'s content copied up', { skip }, () => withCli(async (c) => {
  const tmp = mkdtempSync(join(tmpdir(), 'berth-volimg-'));
  try {
    const fs = join(tmp, 'rootfs');
    mkdirSync(fs);
    busyboxRootfs(fs);
    mkdirSync(join(fs, 'data'));
    writeFileSync(join(fs, 'data/seed'), 'from-image\n');
    const tar = join(tmp, 'rootfs.tar');
    execFileSync('tar', ['--numeric-owner', '-C', fs, '-cf', tar, '.']);
    await c.ok(['import', '-c', 'VOLUME /data', '-c', 'CMD ["sh"]', tar, 'volimg:1']);
    assert.equal(await c.ok(['image', 'inspect', '-f', '{{json .Config.Volumes}}', 'volimg:1']), '{"/data":{}}');
    const id = await c.ok(['create', 'volimg:1', 'sh', '-c', 'cat /data/seed; echo more > /data/more']);
    const r = await c.berth(['start', '-a', id]);
    assert.equal(r.out, 'from-image\n', r.err);
    const [m] = await mountsOf(c, id);
    assert.equal(m?.Type, 'volume');
    assert.equal(m!.Destination, '/data');
    const data = join(c.root, 'volumes', m!.Name!, '_data');
    assert.equal(readFileSync(join(data, 'seed'), 'utf8'), 'from-image\n', 'copied up');
    assert.equal(readFileSync(join(data, 'more'), 'utf8'), 'more\n');
    // an explicit -v over the image volume replaces it
    assert.equal(await c.ok(['run', '--rm', '-v', 'mine:/data', 'volimg:1', 'ls', '/data']), 'seed');
    await c.ok(['rm', '-v', id]);
    assert.ok(!existsSync(join(c.root, 'volumes', m!.Name!)));
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}));
