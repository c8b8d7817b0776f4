/**
 * cp, diff, export and commit against a hostile running container (CVE-2018-15664's class): the
 * container keeps swapping a directory for a symlink to `/` while the engine copies through it.
 * Nothing may ever be written into the host's `/`, nor anything read from it: every path is
 * resolved inside the container's root at the moment it is used. The hit counts (how many tries
 * reached the host) are printed as diagnostics; they must be 0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { createContainer, removeContainer, startContainer, type CreateRequest } from '../../src/engine/containers/index.js';
import { archiveFromContainer, extractToContainer, statContainerPath } from '../../src/engine/containers/cp.js';
import { containerChanges } from '../../src/engine/containers/diff.js';
import { commitContainer } from '../../src/engine/containers/commit.js';
import { exportContainer, packTree } from '../../src/engine/containers/export.js';
import { contentStore, imageStore } from '../../src/image/index.js';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { processAlive } from '../../src/sys/index.js';

function haveGcc(): boolean {
  try { execFileSync('gcc', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

const why = process.getuid?.() !== 0 ? 'needs root (mounts, namespaces)' : !haveBusybox() ? 'busybox-static is not installed'
  : !haveGcc() ? 'gcc is not installed (the swapper is built at run time)' : '';

const TRIES = Number(process.env.BERTH_RACE_TRIES ?? 150);
const tag = `berth-race-${process.pid}-${Date.now().toString(36)}`;
/** A host file in `/` that nothing may ever read through a container. */
const secretName = `${tag}-secret`;
const secret = `host-secret-${Math.random().toString(36).slice(2)}-${Date.now()}`;

let e: BusyboxEngine;
let scratch: string;
const ids: string[] = [];
before(async () => {
  if (why) return;
  e = await busyboxEngine();
  scratch = mkdtempSync(join(tmpdir(), 'berth-cprace-'));
  writeFileSync(`/${secretName}`, secret);
});
after(async () => {
  if (why) return;
  for (const id of ids) await removeContainer(e.core, id, { force: true }).catch(() => undefined);
  await e.cleanup();
  rmSync(scratch, { recursive: true, force: true });
  rmSync(`/${secretName}`, { force: true });
});

/** The swapper: exchanges DIR and DIR.lnk (a symlink to /) with renameat2(RENAME_EXCHANGE) in a loop. */
const SWAPPER_C = `#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/fs.h>
int main(int argc, char **argv) {
  char lnk[4096];
  if (argc < 2) return 2;
  snprintf(lnk, sizeof lnk, "%s.lnk", argv[1]);
  if (symlink("/", lnk) != 0) { perror("symlink"); return 1; }
  for (;;) if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, lnk, RENAME_EXCHANGE) != 0) { perror("renameat2"); return 1; }
}
`;

let swapperBin = '';
function buildSwapper(): string {
  if (swapperBin) return swapperBin;
  const src = join(scratch, 'swapper.c');
  writeFileSync(src, SWAPPER_C);
  execFileSync('gcc', ['-O2', '-static', '-o', join(scratch, 'swapper'), src], { stdio: 'pipe' });
  return (swapperBin = join(scratch, 'swapper'));
}

/**
 * A container swapping `dir` between a directory (holding a file named like the host's secret,
 * with other content) and a symlink to `/`, atomically and as fast as it can (CVE-2018-15664's
 * proof of concept).
 */
async function swapper(dir: string, o: Partial<CreateRequest> = {}): Promise<string> {
  const script = `mkdir -p ${dir}; echo inside > ${dir}/${secretName}; touch /ready; exec /swapper ${dir}`;
  const mounts = [{ type: 'bind', source: buildSwapper(), target: '/swapper', readonly: true }];
  const c = await createContainer(e.core, { image: e.image, name: `${tag}-${ids.length}`, ...o, options: { ...o.options, mounts, cmd: ['sh', '-c', script] } as CreateRequest['options'] });
  ids.push(c.id);
  await startContainer(e.core, c.id);
  let ready = false;
  for (let i = 0; i < 400 && !ready; i++) {
    ready = await statContainerPath(e.core, c.id, '/ready').then(() => true, () => false);
    if (!ready) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(ready, 'the swapper started');
  return c.id;
}

/** The swapper (the container's init, exec'd) still runs: the race was on for every try. */
function stillSwapping(id: string): void {
  const pid = e.core.store.containers.get(id).state.pid;
  assert.ok(pid > 0 && processAlive(pid), 'the swapper ran to the end of the tries');
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every entry of a tar: name → content (or link target). */
async function tarEntries(buf: Buffer): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ex = tar.extract();
  const done = (async () => {
    for await (const entry of ex) {
      const body = await collect(entry);
      out.set(entry.header.name, entry.header.type === 'symlink' ? `-> ${entry.header.linkname}` : body.toString());
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

const leaked = (m: Map<string, string>) => [...m].some(([name, body]) => name.includes(secretName) && body.includes(secret)) || [...m.values()].some((b) => b.includes(secret));

test('cp into a container swapping its destination for a link to / never writes on the host', { skip: why || false, timeout: 120_000 }, async (t) => {
  const id = await swapper('/tmp/d');
  let hits = 0;
  let copied = 0;
  for (let i = 0; i < TRIES; i++) {
    const name = `${tag}-in-${i}`;
    const src = join(scratch, name);
    writeFileSync(src, `copy ${i}\n`);
    // what `berth cp SRC ctr:/tmp/d/NAME` asks the engine for
    await extractToContainer(e.core, id, '/tmp/d', packTree(src, name)).then(() => { copied++; }, () => undefined);
    rmSync(src);
    if (existsSync(`/${name}`)) {
      hits++;
      unlinkSync(`/${name}`);
    }
  }
  t.diagnostic(`cp in: ${hits} of ${TRIES} tries wrote into the host's /; ${copied} copies succeeded`);
  assert.equal(hits, 0, `${hits} of ${TRIES} copies into the container wrote a file into the host's /`);
  assert.ok(copied > 0, 'some copies succeeded (the operation was exercised)');
  stillSwapping(id);
});

test('cp out of a container swapping its source for a link to / never reads the host', { skip: why || false, timeout: 120_000 }, async (t) => {
  const id = await swapper('/tmp/d');
  let hits = 0;
  let read = 0;
  for (let i = 0; i < TRIES; i++) {
    const path = i % 2 ? `/tmp/d/${secretName}` : '/tmp/d/.';
    const got = await archiveFromContainer(e.core, id, path, async (_st, a) => tarEntries(await collect(a))).catch(() => undefined);
    if (!got) continue;
    read++;
    if (leaked(got)) hits++;
  }
  t.diagnostic(`cp out: ${hits} of ${TRIES} tries read the host's /${secretName}; ${read} copies succeeded`);
  assert.equal(hits, 0, `${hits} of ${TRIES} copies out of the container read the host's secret`);
  assert.ok(read > 0, 'some copies succeeded (the operation was exercised)');
  stillSwapping(id);
});

test('diff, export and commit of a container swapping a directory for a link to / never read the host', { skip: why || false, timeout: 180_000 }, async (t) => {
  const id = await swapper('/tmp/e');
  const n = Math.max(10, Math.floor(TRIES / 3));
  let diffHits = 0;
  for (let i = 0; i < n; i++) {
    const changes = await containerChanges(e.core, id);
    const bad = changes.filter((c) => (c.Path.includes(secretName) && !c.Path.startsWith('/tmp/e/') && !c.Path.startsWith('/tmp/e.lnk/')) || /^\/tmp\/e(\.lnk)?\/(proc|sys|usr|var|home)$/.test(c.Path));
    if (bad.length) t.diagnostic(`diff listed the host: ${JSON.stringify(bad.slice(0, 5))}`);
    if (bad.length) diffHits++;
  }
  let exportHits = 0;
  let exports = 0;
  for (let i = 0; i < n; i++) {
    const chunks: Buffer[] = [];
    const sink = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } });
    if (await exportContainer(e.core, id, sink).then(() => true, () => false)) exports++;
    const all = Buffer.concat(chunks);
    if (all.includes(secret)) exportHits++;
  }
  let commitHits = 0;
  let commits = 0;
  const commitErrors: string[] = [];
  const images = imageStore(e.core.images);
  const content = contentStore(e.core.images);
  for (let i = 0; i < Math.max(3, Math.floor(n / 5)); i++) {
    const imageId = await commitContainer(e.core, id, { pause: false }).catch((err: unknown) => { commitErrors.push(String(err)); return undefined; });
    if (!imageId) continue;
    commits++;
    const rec = await images.get(imageId);
    const layer = rec?.layers.at(-1);
    if (layer && rec!.layers.length > 1) {
      const blob = gunzipSync(await collect(content.createReadStream(layer.digest)));
      if (blob.includes(secret)) commitHits++;
    }
  }
  t.diagnostic(`diff: ${diffHits} of ${n}, export: ${exportHits} of ${n}, commit: ${commitHits} of ${commits} read the host's /`);
  if (commitErrors.length) t.diagnostic(`commit failures: ${commitErrors.slice(0, 3).join('; ')}`);
  assert.deepEqual({ diffHits, exportHits, commitHits }, { diffHits: 0, exportHits: 0, commitHits: 0 });
  assert.ok(exports > 0 && commits > 0, `exports ${exports}, commits ${commits}: the operations were exercised`);
  stillSwapping(id);
});

test('export, diff, commit and cp of a stopped container whose links point at the host never read the host', { skip: why || false, timeout: 120_000 }, async () => {
  const script = `mkdir -p /x && ln -s / /x/root && ln -s /${secretName} /x/abs && ln -s ../../../../../../${secretName} /x/rel && ln -s /proc/1/root /x/magic`;
  const c = await createContainer(e.core, { image: e.image, name: `${tag}-static`, options: { cmd: ['sh', '-c', script] } });
  ids.push(c.id);
  await startContainer(e.core, c.id);
  const { waitContainer } = await import('../../src/engine/containers/index.js');
  assert.equal(await waitContainer(e.core, c.id), 0);
  // cp out: the links themselves, and what they name resolved inside the container (-L): nothing there
  const links = await archiveFromContainer(e.core, c.id, '/x', async (_st, a) => tarEntries(await collect(a)));
  assert.equal(links.get('x/abs'), `-> /${secretName}`);
  assert.ok(!leaked(links));
  for (const p of ['/x/abs', '/x/rel', '/x/root/' + secretName, '/x/magic/etc/passwd']) {
    const st = await statContainerPath(e.core, c.id, p).catch(() => undefined);
    if (st?.linkTarget) await assert.rejects(archiveFromContainer(e.core, c.id, st.linkTarget, async () => undefined), /Could not find the file|link out of the container/);
    else await assert.rejects(archiveFromContainer(e.core, c.id, p, async (_s, a) => tarEntries(await collect(a))), /Could not find the file|link out of the container/, p);
  }
  const chunks: Buffer[] = [];
  await exportContainer(e.core, c.id, new Writable({ write(b: Buffer, _e, cb) { chunks.push(b); cb(); } }));
  const exported = await tarEntries(Buffer.concat(chunks));
  assert.equal(exported.get('x/root'), '-> /');
  assert.ok(!leaked(exported), 'export has no host content');
  const changes = await containerChanges(e.core, c.id);
  assert.ok(changes.some((ch) => ch.Path === '/x/abs'));
  assert.ok(!changes.some((ch) => ch.Path.startsWith('/x/root/')), 'diff does not descend into a link');
  const imageId = await commitContainer(e.core, c.id);
  const rec = await imageStore(e.core.images).get(imageId);
  const layer = gunzipSync(await collect(contentStore(e.core.images).createReadStream(rec!.layers.at(-1)!.digest)));
  const committed = await tarEntries(layer);
  assert.equal(committed.get('x/abs'), `-> /${secretName}`);
  assert.ok(!leaked(committed), 'the committed layer has no host content');
});

test('volume copy-up from an image directory swapped for a link to / never copies host files', { skip: why || false, timeout: 120_000 }, async (t) => {
  const { copyUp } = await import('../../src/engine/files/index.js');
  const { spawn } = await import('node:child_process');
  const { lstatSync, mkdirSync, readdirSync, readFileSync } = await import('node:fs');
  const rootfs = join(scratch, 'copyup-rootfs');
  mkdirSync(join(rootfs, 'data', 'sub'), { recursive: true });
  writeFileSync(join(rootfs, 'data', 'sub', secretName), 'inside');
  // the rootfs's owner (here a host process) swaps data/sub and a link to / while the copies run
  const swap = spawn(buildSwapper(), [join(rootfs, 'data', 'sub')], { stdio: 'ignore' });
  let hits = 0;
  let copied = 0;
  try {
    for (let i = 0; i < TRIES; i++) {
      const vol = join(scratch, `vol-${i}`);
      mkdirSync(vol);
      await copyUp(rootfs, '/data', vol).then((r) => { if (r.copied) copied++; }, () => undefined);
      const found: string[] = [];
      const walk = (d: string): void => {
        for (const n of readdirSync(d, { withFileTypes: true })) {
          if (n.isDirectory()) walk(join(d, n.name));
          else if (n.isFile() && readFileSync(join(d, n.name), 'utf8').includes(secret)) found.push(join(d, n.name));
        }
      };
      walk(vol);
      // a copied directory holds only what the image's has (a host listing would bring more names)
      const extra = ['sub', 'sub.lnk'].flatMap((d) => {
        try { return lstatSync(join(vol, d)).isDirectory() ? readdirSync(join(vol, d)).filter((n) => n !== secretName) : []; } catch { return []; }
      });
      if (found.length || extra.length) hits++;
      rmSync(vol, { recursive: true, force: true });
    }
    assert.equal(swap.exitCode, null, 'the host swapper ran to the end of the tries');
  } finally {
    swap.kill('SIGKILL');
  }
  t.diagnostic(`copy-up: ${hits} of ${TRIES} tries copied host files; ${copied} copies made`);
  assert.equal(hits, 0);
  assert.ok(copied > 0, 'some copy-ups were made (the operation was exercised)');
});
