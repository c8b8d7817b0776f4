import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { BerthError } from '../../src/lib/index.js';
import { ContentStore, digestHex, sha256, shortDigest, writeJSONAtomic, readJSONFile } from '../../src/content/index.js';

const dg = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

function withStore(fn: (s: ContentStore, root: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-content-'));
    try {
      await fn(new ContentStore(root), root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
}

function blobFiles(root: string): string[] {
  const d = join(root, 'blobs', 'sha256');
  return existsSync(d) ? readdirSync(d) : [];
}

test('writeBlob, has, info, readJSON, list, walk, delete', withStore(async (s, root) => {
  const doc = Buffer.from(JSON.stringify({ hello: 'world' }));
  const info = await s.writeBlob(doc);
  assert.deepEqual(info, { digest: dg(doc), size: doc.length });
  assert.equal(await s.has(info.digest), true);
  assert.deepEqual(await s.info(info.digest), info);
  assert.deepEqual(await s.readJSON(info.digest), { hello: 'world' });
  assert.equal(s.path(info.digest), join(root, 'blobs/sha256', info.digest.slice(7)));
  assert.equal(statSync(s.path(info.digest)).mode & 0o777, 0o444, 'committed blobs are read-only');
  const other = await s.writeBlob('second');
  assert.deepEqual((await s.list()).map((b) => b.digest).sort(), [info.digest, other.digest].sort());
  const walked: string[] = [];
  await s.walk((b) => { walked.push(b.digest); });
  assert.equal(walked.length, 2);
  const chunks: Buffer[] = [];
  for await (const c of s.createReadStream(info.digest)) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), doc);
  assert.equal(await s.delete(info.digest), true);
  assert.equal(await s.delete(info.digest), false);
  assert.equal(await s.has(info.digest), false);
  await assert.rejects(s.info(info.digest), (e: BerthError) => e.kind === 'notfound' && e.message.includes(info.digest));
  await assert.rejects(s.readBytes(info.digest), (e: BerthError) => e.kind === 'notfound');
  const rs = s.createReadStream(info.digest);
  await assert.rejects(async () => { for await (const _ of rs) { /* */ } }, (e: BerthError) => e.kind === 'notfound');
}));

test('an empty blob can be stored', withStore(async (s) => {
  const w = await s.ingest('empty');
  const info = await w.commit(dg(''), 0);
  assert.deepEqual(info, { digest: dg(''), size: 0 });
  assert.equal((await s.readBytes(info.digest)).length, 0);
}));

test('ingest streams, and nothing is visible before commit', withStore(async (s, root) => {
  const data = randomBytes(3 << 20);
  const w = await s.ingest('layer-1');
  await pipeline(Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]), w.writable());
  assert.equal(w.offset(), data.length);
  assert.equal(w.digest(), dg(data));
  assert.deepEqual(blobFiles(root), [], 'nothing under blobs/ before commit');
  assert.equal(await s.has(dg(data)), false);
  const info = await w.commit(dg(data), data.length);
  assert.equal(info.digest, dg(data));
  assert.deepEqual(await s.readBytes(info.digest, true), data);
  assert.deepEqual(readdirSync(join(root, 'ingest')), [], 'the ingest directory and its lock are gone');
}));

test('an interrupted ingest resumes where it stopped, with the right digest', withStore(async (s) => {
  const data = randomBytes(200_000);
  let w = await s.ingest('resume-me');
  await w.write(data.subarray(0, 70_000));
  await w.close(); // interrupted: partial data kept
  const st = await s.ingests();
  assert.equal(st.length, 1);
  assert.equal(st[0]!.ref, 'resume-me');
  assert.equal(st[0]!.offset, 70_000);
  assert.equal(st[0]!.activePid, undefined);
  w = await s.ingest('resume-me');
  assert.equal(w.offset(), 70_000);
  await w.write(data.subarray(70_000));
  const info = await w.commit(dg(data), data.length);
  assert.equal(info.digest, dg(data));
  // restart discards earlier bytes
  w = await s.ingest('again');
  await w.write(Buffer.from('garbage'));
  await w.close();
  w = await s.ingest('again', { restart: true });
  assert.equal(w.offset(), 0);
  await w.abort();
  assert.deepEqual(await s.ingests(), []);
}));

test('a digest that lies stores nothing and names the digest received', withStore(async (s, root) => {
  const data = Buffer.from('the real content');
  const claimed = dg('something else');
  const w = await s.ingest('liar');
  await w.write(data);
  await assert.rejects(w.commit(claimed, data.length), (e: BerthError) => {
    assert.equal(e.kind, 'invalid');
    assert.match(e.message, /digest mismatch/);
    assert.ok(e.message.includes(claimed), 'names the expected digest');
    assert.ok(e.message.includes(dg(data)), 'names the digest it got');
    return true;
  });
  assert.deepEqual(blobFiles(root), []);
  assert.deepEqual(await s.ingests(), [], 'the bad bytes are not kept for a resume');
  // size mismatch too
  const w2 = await s.ingest('short');
  await w2.write(data);
  await assert.rejects(w2.commit(dg(data), data.length + 1), /size mismatch: expected 17 bytes.*got 16 bytes/);
  assert.deepEqual(blobFiles(root), []);
  // and an invalid expected digest is a clear error
  const w3 = await s.ingest('bad-digest');
  await w3.write(data);
  await assert.rejects(w3.commit('md5:abc'), /invalid digest|unsupported digest algorithm/);
  assert.deepEqual(blobFiles(root), []);
}));

test('one writer per ingest ref; a dead writer\'s lock is taken over', withStore(async (s, root) => {
  const w = await s.ingest('busy');
  await assert.rejects(s.ingest('busy'), (e: BerthError) => e.kind === 'conflict' && /in use/.test(e.message));
  const listed = await s.ingests();
  assert.equal(listed[0]!.activePid, process.pid);
  await w.write(Buffer.from('abc'));
  await w.close();
  // a lock left by a process that no longer exists
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  writeFileSync(join(root, 'ingest', 'busy.lock'), String(deadPid));
  const again = await s.ingest('busy');
  assert.equal(again.offset(), 3);
  await again.abort();
  // a lock of a live foreign process is respected
  writeFileSync(join(root, 'ingest', 'busy.lock'), '1');
  await assert.rejects(s.ingest('busy'), /in use by process 1/);
  rmSync(join(root, 'ingest', 'busy.lock'));
}));

test('pruneIngests removes idle ingests only', withStore(async (s) => {
  const idle = await s.ingest('idle');
  await idle.write(Buffer.from('x'));
  await idle.close();
  const active = await s.ingest('active');
  assert.equal(await s.pruneIngests(), 1);
  const left = await s.ingests();
  assert.deepEqual(left.map((i) => i.ref), ['active']);
  await active.abort();
}));

test('refs that are not plain names are hashed into safe directory names', withStore(async (s, root) => {
  const w = await s.ingest('../../etc/passwd');
  await w.write(Buffer.from('x'));
  await w.close();
  const names = readdirSync(join(root, 'ingest'));
  assert.ok(names.every((n) => !n.includes('..') && !n.includes('/')));
  assert.equal((await s.ingests())[0]!.ref, '../../etc/passwd');
  await (await s.ingest('../../etc/passwd')).abort();
}));

test('digest helpers validate strictly', () => {
  const d = dg('x');
  assert.equal(digestHex(d), d.slice(7));
  assert.equal(sha256('x'), d);
  assert.equal(shortDigest(d), d.slice(7, 19));
  assert.throws(() => digestHex('sha256:ABC'), /invalid digest/);
  assert.throws(() => digestHex('sha512:' + 'a'.repeat(128)), /unsupported digest algorithm "sha512"/);
  assert.throws(() => digestHex('nonsense'), /invalid digest/);
});

test('atomic JSON files are replaced whole', withStore(async (_s, root) => {
  const p = join(root, 'a', 'b.json');
  await writeJSONAtomic(p, { v: 1 });
  await writeJSONAtomic(p, { v: 2 });
  assert.deepEqual(await readJSONFile(p), { v: 2 });
  assert.deepEqual(readdirSync(join(root, 'a')), ['b.json'], 'no temp files left');
  assert.equal(await readJSONFile(join(root, 'missing.json')), undefined);
  writeFileSync(join(root, 'bad.json'), '{');
  await assert.rejects(readJSONFile(join(root, 'bad.json')), (e: BerthError) => e.kind === 'invalid');
}));
