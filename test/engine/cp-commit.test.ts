/**
 * cp, diff, commit and export on real containers (busybox image, overlay or copy snapshots):
 * archives out of and into running and stopped containers, symlinks resolved inside the
 * container, the A/C/D changes, a committed image that runs, an export of the whole filesystem.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { BerthError } from '../../src/lib/index.js';
import {
  createContainer, readImageConfig, removeContainer, startContainer, stopContainer, waitContainer, type CreateRequest,
} from '../../src/engine/containers/index.js';
import { contentStore, imageStore } from '../../src/image/index.js';
import { archiveFromContainer, extractTar, extractToContainer, statContainerPath } from '../../src/engine/containers/cp.js';
import { containerChanges, snapshotChanges, CHANGE_ADD, CHANGE_DELETE, CHANGE_MODIFY } from '../../src/engine/containers/diff.js';
import { Snapshotter } from '../../src/snapshots/index.js';
import { commitContainer } from '../../src/engine/containers/commit.js';
import { exportContainer, packTree } from '../../src/engine/containers/export.js';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';

const why = process.getuid?.() !== 0 ? 'needs root (mounts, namespaces)' : !haveBusybox() ? 'busybox-static is not installed' : '';

let e: BusyboxEngine;
let scratch: string;
before(async () => {
  if (why) return;
  e = await busyboxEngine();
  scratch = mkdtempSync(join(tmpdir(), 'berth-cp-'));
});
after(async () => {
  if (why) return;
  await e.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

let seq = 0;
/** A container running `script` (then sleeping when `keep`), started. */
async function running(script: string, o: Partial<CreateRequest> = {}, keep = true): Promise<string> {
  const c = await createContainer(e.core, { image: e.image, name: `cp${process.pid}x${seq++}`, ...o, options: { ...o.options, cmd: ['sh', '-c', keep ? `${script}; touch /ready; exec sleep 300` : script] } });
  await startContainer(e.core, c.id);
  if (keep) {
    for (let i = 0; i < 200; i++) {
      if (await statContainerPath(e.core, c.id, '/ready').then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
  } else {
    assert.equal(await waitContainer(e.core, c.id), 0, `${script} exits 0`);
  }
  return c.id;
}

/** Exit code of a fresh container of `image` running `script`. */
async function check(image: string, script: string): Promise<number> {
  const c = await createContainer(e.core, { image, options: { cmd: ['sh', '-c', script] } });
  try {
    await startContainer(e.core, c.id);
    return await waitContainer(e.core, c.id);
  } finally {
    await removeContainer(e.core, c.id, { force: true });
  }
}

interface Entry { type: string; data: string; linkname: string | null; mode: number }

async function readTar(stream: Readable): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const ex = tar.extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      out.set(h.name, { type: h.type, data: Buffer.concat(chunks).toString(), linkname: h.linkname ?? null, mode: h.mode });
    }
  })();
  stream.pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

const fromContainer = (id: string, path: string) => archiveFromContainer(e.core, id, path, async (_st, a) => readTar(a));

function viewMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`${e.runRoot}/view-`));
}

test('cp out of a running container: file, directory, symlink kept, link in the path resolved inside the rootfs', { skip: why || false }, async () => {
  const id = await running('echo hi > /tmp/f; mkdir -p /d/sub; echo deep > /d/sub/g; ln -s /etc /abs; ln -s ../../etc/passwd /d/rel');
  const f = await fromContainer(id, '/tmp/f');
  assert.deepEqual([...f.keys()], ['f']);
  assert.equal(f.get('f')!.data, 'hi\n');
  const d = await fromContainer(id, 'd');
  assert.deepEqual([...d.keys()].sort(), ['d/', 'd/rel', 'd/sub/', 'd/sub/g']);
  assert.equal(d.get('d/rel')!.type, 'symlink');
  assert.equal(d.get('d/rel')!.linkname, '../../etc/passwd');
  const contents = await fromContainer(id, '/d/.');
  assert.ok(contents.has('./sub/g'), `SRC/. archives the contents: ${[...contents.keys()]}`);
  // /abs -> /etc: an absolute link is followed inside the container, never to the host's /etc
  const pw = await fromContainer(id, '/abs/passwd');
  assert.match(pw.get('passwd')!.data, /^user:x:1000:1000:/m, 'the container\'s passwd');
  assert.notEqual(pw.get('passwd')!.data, readFileSync('/etc/passwd', 'utf8'));
  const link = await statContainerPath(e.core, id, '/abs');
  assert.equal(link.linkTarget, '/etc');
  assert.equal((link.mode & 0o170000), 0o120000, 'the last link is not followed by stat');
  const rel = await statContainerPath(e.core, id, '/d/rel');
  assert.equal(rel.linkTarget, '/etc/passwd', '../.. stops at the container root');
  const abs = await fromContainer(id, '/abs');
  assert.deepEqual([...abs.keys()], ['abs'], 'the link itself');
  await assert.rejects(fromContainer(id, '/nonexistent'), (err: unknown) => err instanceof BerthError && err.kind === 'notfound'
    && err.message === `Could not find the file /nonexistent in container ${id}`);
  assert.deepEqual(viewMounts(), [], 'nothing stays mounted');
});

test('cp into a container: file, directory, through an absolute symlink (inside the rootfs), running and stopped', { skip: why || false }, async () => {
  const id = await running('ln -s /etc /abs');
  const src = join(scratch, 'in');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'sub', 'file'), 'payload\n');
  symlinkSync('/etc/shadow', join(src, 'sub', 'lnk'));
  await extractToContainer(e.core, id, '/tmp', packTree(src, 'in'));
  const marker = `berth-cp-test-${process.pid}-${Date.now()}`;
  await extractToContainer(e.core, id, '/abs', packTree(join(src, 'sub', 'file'), marker));
  assert.equal(existsSync(join('/etc', marker)), false, 'the host /etc is untouched');
  const back = await fromContainer(id, `/etc/${marker}`);
  assert.equal(back.get(marker)!.data, 'payload\n', 'written to the container\'s /etc');
  const tree = await fromContainer(id, '/tmp/in');
  assert.equal(tree.get('in/sub/file')!.data, 'payload\n');
  assert.equal(tree.get('in/sub/lnk')!.linkname, '/etc/shadow');
  await assert.rejects(extractToContainer(e.core, id, '/nope', packTree(src, 'in')), (err: unknown) => err instanceof BerthError
    && err.message === `Could not find the file /nope in container ${id}`);
  await assert.rejects(extractToContainer(e.core, id, `/etc/${marker}`, packTree(src, 'in')), /extraction point is not a directory/);

  await stopContainer(e.core, id, 1);
  await extractToContainer(e.core, id, '/', packTree(join(src, 'sub', 'file'), 'stopped'));
  assert.equal((await fromContainer(id, '/stopped')).get('stopped')!.data, 'payload\n', 'stopped containers too');
  assert.equal((await fromContainer(id, '/tmp/in/sub/file')).get('file')!.data, 'payload\n');
  // the round trip back to a local directory, via the same extractor the CLI uses
  const out = mkdtempSync(join(scratch, 'out-'));
  await archiveFromContainer(e.core, id, '/tmp/in', async (_st, a) => extractTar(a, '/', out, { chown: false, noOverwriteDirNonDir: true }));
  assert.equal(readFileSync(join(out, 'in/sub/file'), 'utf8'), 'payload\n');
  assert.equal(readlinkSync(join(out, 'in/sub/lnk')), '/etc/shadow');
  assert.deepEqual(viewMounts(), []);
  const c = await startContainer(e.core, id);
  assert.equal(c.container.state.status, 'running', 'the container starts after a copy into its stopped filesystem');
  await removeContainer(e.core, id, { force: true });
});

test('extractTar refuses entries and links that leave the destination', { skip: why || false }, async () => {
  const dir = mkdtempSync(join(scratch, 'x-'));
  const evil = async (h: Partial<tar.Header> & { name: string }) => {
    const p = tar.pack();
    p.entry(h, Buffer.alloc(0));
    p.finalize();
    return extractTar(p as unknown as Readable, '/', dir, { chown: false });
  };
  await assert.rejects(evil({ name: '../escape', type: 'file', size: 0 }), /outside of the destination/);
  await assert.rejects(evil({ name: 'l', type: 'symlink', linkname: '../../etc/passwd' }), /invalid symlink/);
  await assert.rejects(evil({ name: 'h', type: 'link', linkname: '../x' }), /outside of the destination/);
  assert.equal(existsSync(join(dir, 'l')), false);
});

test('cp with volumes: a stopped container\'s volume is seen and written; export leaves volumes out', { skip: why || false }, async () => {
  const vol = `cpvol${process.pid}`;
  const id = await running('echo v > /data/inside; echo r > /rootfile', { options: { mounts: [{ type: 'volume', source: vol, target: '/data', readonly: false }] } }, false);
  assert.equal((await fromContainer(id, '/data/inside')).get('inside')!.data, 'v\n');
  await extractToContainer(e.core, id, '/data', packTree(join(scratch, 'in', 'sub', 'file'), 'added'));
  assert.equal(readFileSync(join(e.core.store.volumes.get(vol).mountpoint, 'added'), 'utf8'), 'payload\n');
  const sink = new Collect();
  await exportContainer(e.core, id, sink);
  const names = [...(await readTar(Readable.from([sink.data()]))).keys()];
  assert.ok(names.includes('rootfile'));
  assert.ok(!names.includes('data/inside') && !names.includes('data/added'), 'volume content is not exported');
  assert.deepEqual(viewMounts(), []);
});

class Collect extends Writable {
  private chunks: Buffer[] = [];
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void { this.chunks.push(c); cb(); }
  data(): Buffer { return Buffer.concat(this.chunks); }
}

test('export: the whole filesystem of a running container, with what it wrote', { skip: why || false }, async () => {
  const id = await running('echo exported > /root/mine');
  const sink = new Collect();
  await exportContainer(e.core, id, sink);
  const t = await readTar(Readable.from([sink.data()]));
  assert.equal(t.get('bin/busybox')?.type, 'file');
  assert.ok(t.get('bin/busybox')!.data.length > 100000);
  assert.equal(t.get('root/mine')?.data, 'exported\n');
  assert.equal(t.get('bin/sh')?.type, 'symlink');
  assert.equal(t.get('tmp/')?.mode, 0o1777);
  assert.ok(![...t.keys()].some((n) => n.startsWith('proc/') && n !== 'proc/'), '/proc is not walked');
  assert.deepEqual(viewMounts(), []);
});

test('diff: added, changed and deleted paths, without the runtime\'s mount points', { skip: why || false }, async () => {
  const id = await running('echo x > /tmp/new; rm /etc/group; mkdir -p /var/a/b; echo y >> /etc/passwd; rm -rf /home; mkdir /home; touch /home/h', {}, false);
  const lines = (await containerChanges(e.core, id)).map((c) => `${c.Kind === CHANGE_ADD ? 'A' : c.Kind === CHANGE_DELETE ? 'D' : 'C'} ${c.Path}`);
  assert.deepEqual(lines, [
    'C /etc', 'D /etc/group', 'C /etc/passwd', 'C /home', 'A /home/h', 'C /tmp', 'A /tmp/new', 'C /var', 'A /var/a', 'A /var/a/b',
  ]);
  assert.ok(!lines.some((l) => /hosts|hostname|resolv/.test(l)), 'mount points are not changes');
  assert.equal(CHANGE_MODIFY, 0);
  const none = await running('true', {}, false);
  assert.deepEqual(await containerChanges(e.core, none), [], 'a container that changed nothing');
});

test('commit: a new layer with OCI whiteouts, config and history; the image runs at once', { skip: why || false }, async () => {
  const id = await running('echo committed > /tmp/c; rm /etc/group; rm -rf /home; mkdir /home; touch /home/h', { options: { env: ['A=1'], workdir: '/tmp' } }, false);
  const imageId = await commitContainer(e.core, id, { reference: `committed${process.pid}:v1`, author: 'Tester <t@x>', message: 'my commit', changes: ['ENV B=2', 'LABEL k=v'] });
  assert.match(imageId, /^sha256:[0-9a-f]{64}$/);
  const images = imageStore(e.core.images);
  const rec = (await images.get(imageId))!;
  const parent = (await images.get(e.imageId))!;
  assert.equal(await images.getTag(`docker.io/library/committed${process.pid}:v1`), imageId);
  assert.deepEqual(rec.diffIDs.slice(0, -1), parent.diffIDs, 'the parent\'s layers are reused');
  assert.deepEqual(rec.layers.slice(0, -1), parent.layers);
  assert.equal(rec.diffIDs.length, parent.diffIDs.length + 1);
  const cfg = await readImageConfig(e.core.images, rec, 'test');
  assert.equal(cfg.author, 'Tester <t@x>');
  assert.deepEqual(cfg.rootfs.diff_ids, rec.diffIDs);
  const h = cfg.history!.at(-1)!;
  assert.equal(h.comment, 'my commit');
  assert.equal(h.author, 'Tester <t@x>');
  assert.match(h.created_by!, /^sh -c echo committed/);
  assert.equal(h.empty_layer, undefined);
  const c = cfg.config as Record<string, unknown>;
  assert.ok((c.Env as string[]).includes('A=1') && (c.Env as string[]).includes('B=2'));
  assert.equal(c.WorkingDir, '/tmp');
  assert.deepEqual(c.Labels, { k: 'v' });
  const layer = await readTar(Readable.from([gunzipSync(await contentStore(e.core.images).readBytes(rec.layers.at(-1)!.digest))]));
  assert.equal(layer.get('tmp/c')?.data, 'committed\n');
  assert.equal(layer.get('etc/.wh.group')?.type, 'file', 'a deletion is an OCI whiteout');
  assert.ok(layer.has('home/.wh..wh..opq'), 'a recreated directory is opaque');
  assert.ok(![...layer.keys()].some((n) => /hosts|hostname|resolv\.conf/.test(n)), 'no mount-point placeholders');
  // runs at once, with the committed file, the deletion and the opaque directory
  assert.equal(await check(`committed${process.pid}:v1`, 'test "$(cat /tmp/c)" = committed && test ! -e /etc/group && test "$(ls /home)" = h && test "$B" = 2'), 0);
  assert.equal(await check(imageId, 'test "$(cat /tmp/c)" = committed'), 0, 'by id too');
});

test('commit of a running container pauses it and leaves it running; no changes means no new layer', { skip: why || false }, async () => {
  const id = await running('true');
  const imageId = await commitContainer(e.core, id, {});
  assert.equal(e.core.store.containers.get(id).state.status, 'running');
  const rec = (await imageStore(e.core.images).get(imageId))!;
  const cfg = await readImageConfig(e.core.images, rec, 'test');
  assert.equal(cfg.history!.at(-1)!.empty_layer, undefined, 'the running container created /ready');
  const idle = await running('true', {}, false);
  const same = (await imageStore(e.core.images).get(await commitContainer(e.core, idle, { pause: false })))!;
  const parent = (await imageStore(e.core.images).get(e.imageId))!;
  assert.deepEqual(same.diffIDs, parent.diffIDs);
  assert.equal((await readImageConfig(e.core.images, same, 'test')).history!.at(-1)!.empty_layer, true);
  await assert.rejects(commitContainer(e.core, id, { reference: 'Bad:ref' }), /must be lowercase/);
  await assert.rejects(commitContainer(e.core, id, { changes: ['FROM x'] }), /not a valid change command/);
  assert.equal(lstatSync(scratch).isDirectory(), true);
});

/** A one-layer snapshot chain with `base` entries, and an active snapshot `c` on it, for both drivers. */
async function changesFor(driver: 'overlay' | 'copy', edit: (fs: string) => void): Promise<string[]> {
  const root = mkdtempSync(join(scratch, `snap-${driver}-`));
  const snaps = await Snapshotter.open({ root, driver });
  try {
    const p = tar.pack();
    for (const d of ['d/', 'etc/', 'keep/']) p.entry({ name: d, type: 'directory', mode: 0o755, mtime: new Date(1e12) });
    for (const f of ['d/x', 'etc/a', 'etc/b', 'keep/k']) p.entry({ name: f, mode: 0o644, mtime: new Date(1e12) }, 'data\n');
    p.finalize();
    const base = await snaps.unpackLayer({ tarStream: Readable.from(p as unknown as AsyncIterable<Buffer>) });
    await snaps.prepare('c', base.chainID);
    const mnt = mkdtempSync(join(scratch, 'mnt-'));
    await snaps.mount('c', mnt);
    try { edit(mnt); } finally { await snaps.unmount(mnt); rmSync(mnt, { recursive: true }); }
    const { changes, entries } = snapshotChanges(snaps, 'c');
    const kinds = entries.map((x) => `${x.kind === 'whiteout' ? 'wh' : x.opaque ? 'opq' : 'e'} ${x.rel}`);
    return [...changes.map((c) => `${c.Kind === CHANGE_ADD ? 'A' : c.Kind === CHANGE_DELETE ? 'D' : 'C'} ${c.Path}`), '--', ...kinds];
  } finally {
    snaps.close();
    rmSync(root, { recursive: true, force: true });
  }
}

function edits(fs: string): void {
  rmSync(join(fs, 'etc/a'));
  writeFileSync(join(fs, 'etc/b'), 'longer data\n');
  writeFileSync(join(fs, 'etc/hosts'), ''); // a runtime mount-point placeholder
  rmSync(join(fs, 'd'), { recursive: true });
  mkdirSync(join(fs, 'd'));
  writeFileSync(join(fs, 'd/y'), 'y');
  mkdirSync(join(fs, 'new'));
  writeFileSync(join(fs, 'new/f'), 'f');
}

test('changes and layer entries of both snapshot drivers (overlay upper dir, copy tree comparison)', { skip: why || false }, async () => {
  assert.deepEqual(await changesFor('overlay', edits), [
    'C /d', 'D /d/x', 'A /d/y', 'C /etc', 'D /etc/a', 'C /etc/b', 'A /new', 'A /new/f',
    '--', 'opq d', 'e d/y', 'e etc', 'wh etc/a', 'e etc/b', 'e new', 'e new/f',
  ]);
  assert.deepEqual(await changesFor('copy', edits), [
    'C /d', 'A /d/y', 'D /d/x', 'C /etc', 'C /etc/b', 'D /etc/a', 'A /new', 'A /new/f',
    '--', 'e d', 'e d/y', 'wh d/x', 'e etc', 'e etc/b', 'wh etc/a', 'e new', 'e new/f',
  ]);
});
