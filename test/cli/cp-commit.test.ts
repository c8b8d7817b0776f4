/**
 * `berth cp`, `diff`, `commit` and `export` through the real CLI (spawned on a busybox engine's
 * roots): Docker's path rules, messages, exit codes and tar streams on stdin/stdout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar-stream';
import { createContainer, readImageConfig, removeContainer, startContainer, waitContainer } from '../../src/engine/containers/index.js';
import { imageStore } from '../../src/image/index.js';
import { installEnvProxy, runInContext, type CliContext } from '../../src/cli/context.js';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';

const BERTH_MAIN = fileURLToPath(new URL('../../src/cli/berth-main.js', import.meta.url));
const why = process.getuid?.() !== 0 ? 'needs root (mounts, namespaces)' : !haveBusybox() ? 'busybox-static is not installed'
  : !existsSync(BERTH_MAIN) ? 'the CLI is not built' : '';

interface Result { code: number | null; out: Buffer; err: string }

let e: BusyboxEngine;
let dir: string;
before(async () => {
  if (why) return;
  e = await busyboxEngine();
  dir = mkdtempSync(join(tmpdir(), 'berth-clicp-'));
});
after(async () => {
  if (why) return;
  await e.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function berth(args: string[], input?: Buffer): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BERTH_MAIN, ...args], { env: e.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out: Buffer.concat(out), err }); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

async function ok(args: string[], input?: Buffer): Promise<Result> {
  const r = await berth(args, input);
  assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.err}`);
  return r;
}

let seq = 0;
/** A running container named after the test that ran `script` first. */
async function container(script: string): Promise<string> {
  const name = `clicp${process.pid}x${seq++}`;
  const c = await createContainer(e.core, { image: e.image, name, options: { cmd: ['sh', '-c', `${script}; touch /ready; exec sleep 300`] } });
  await startContainer(e.core, c.id);
  for (let i = 0; i < 200 && (await berth(['cp', `${name}:/ready`, '-'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 25));
  return name;
}

async function tarNames(buf: Buffer): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ex = tar.extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.name, entry.header.type === 'symlink' ? `-> ${entry.header.linkname}` : Buffer.concat(chunks).toString());
    }
  })();
  Readable.from([buf]).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

const local = (...p: string[]) => join(dir, ...p);

test('cp out: file, directory rules, SRC/., symlinks resolved inside the container, -L, the message', { skip: why || false }, async () => {
  const c = await container('echo hi > /tmp/f; mkdir -p /d/sub; echo g > /d/sub/g; ln -s /etc /abs');
  const r = await ok(['cp', '-q=false', `${c}:/tmp/f`, local('f1')]);
  assert.equal(r.err, `Successfully copied 2.05kB to ${local('f1')}\n`);
  assert.equal(readFileSync(local('f1'), 'utf8'), 'hi\n');
  assert.equal((await ok(['cp', `${c}:/tmp/f`, local('f2')])).err, '', 'no message when stdout is not a terminal');
  assert.equal((await ok(['cp', '-q', `${c}:/tmp/f`, local('f2')])).err, '');

  mkdirSync(local('into'));
  await ok(['cp', `${c}:/d`, local('into')]);
  assert.equal(readFileSync(local('into/d/sub/g'), 'utf8'), 'g\n', 'a directory into an existing one');
  await ok(['cp', `${c}:/d`, local('newd')]);
  assert.equal(readFileSync(local('newd/sub/g'), 'utf8'), 'g\n', 'a directory to a new name');
  mkdirSync(local('contents'));
  await ok(['cp', `${c}:/d/.`, local('contents')]);
  assert.deepEqual(readdirSync(local('contents')), ['sub'], 'SRC/. copies the contents');

  await ok(['cp', `${c}:/abs/passwd`, local('pw')]);
  assert.match(readFileSync(local('pw'), 'utf8'), /^user:x:1000:/m, 'the container\'s /etc/passwd, not the host\'s');
  await ok(['cp', `${c}:/abs`, local('link')]);
  assert.equal(readlinkSync(local('link')), '/etc', 'the link itself without -L');
  await ok(['cp', '-L', `${c}:/abs`, local('followed')]);
  assert.ok(existsSync(local('followed/passwd')), '-L copies what the link points to');

  const missing = await berth(['cp', `${c}:/nope`, local('x')]);
  assert.equal(missing.code, 1);
  assert.equal(missing.err, `Error response from daemon: Could not find the file /nope in container ${c}\n`);
  const noDir = await berth(['cp', `${c}:/tmp/f`, local('absent/')]);
  assert.equal(noDir.code, 1);
  assert.equal(noDir.err, 'no such directory\n');
  const badParent = await berth(['cp', `${c}:/tmp/f`, local('no/such/x')]);
  assert.equal(badParent.err, `invalid output path: directory "${local('no/such')}" does not exist\n`);
});

test('cp in: file, directory, a link to a directory, a tar stream on stdin; cp - writes a tar stream', { skip: why || false }, async () => {
  const c = await container('ln -s /etc /abs; mkdir /target');
  mkdirSync(local('src/sub'), { recursive: true });
  writeFileSync(local('src/sub/file'), 'payload\n');
  symlinkSync('sub/file', local('src/rel'));
  const r = await ok(['cp', '-q=false', local('src'), `${c}:/target`]);
  assert.equal(r.err, `Successfully copied 3.58kB to ${c}:/target\n`);
  await ok(['cp', local('src'), `${c}:/renamed`]);
  await ok(['cp', local('src/.'), `${c}:/target/contents`]);
  const marker = `berth-clicp-${process.pid}-${Date.now()}`;
  await ok(['cp', local('src/sub/file'), `${c}:/abs/${marker}`]);
  assert.equal(existsSync(`/etc/${marker}`), false, 'the host /etc is untouched');

  const t = await tarNames((await ok(['cp', `${c}:/target`, '-'])).out);
  assert.equal(t.get('target/src/sub/file'), 'payload\n');
  assert.equal(t.get('target/src/rel'), '-> sub/file');
  assert.equal(t.get('target/contents/sub/file'), 'payload\n');
  assert.equal((await tarNames((await ok(['cp', `${c}:/renamed/sub/file`, '-'])).out)).get('file'), 'payload\n');
  assert.equal((await tarNames((await ok(['cp', `${c}:/etc/${marker}`, '-'])).out)).get(marker), 'payload\n');

  // `-` as the source: a tar stream extracted into a directory
  const p = tar.pack();
  p.entry({ name: 'streamed/a.txt', mode: 0o640 }, 'from stdin\n');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const ch of p as unknown as AsyncIterable<Buffer>) chunks.push(ch);
  await ok(['cp', '-', `${c}:/tmp`], Buffer.concat(chunks));
  assert.equal((await tarNames((await ok(['cp', `${c}:/tmp/streamed/a.txt`, '-'])).out)).get('a.txt'), 'from stdin\n');
  const notDir = await berth(['cp', '-', `${c}:/etc/passwd`], Buffer.concat(chunks));
  assert.equal(notDir.err, `destination "${c}:/etc/passwd" must be a directory\n`);
  const dirOnFile = await berth(['cp', local('src'), `${c}:/etc/passwd`]);
  assert.equal(dirOnFile.err, 'cannot copy directory\n');
  const noParent = await berth(['cp', local('src'), `${c}:/no/such/dir`]);
  assert.equal(noParent.err, `Error response from daemon: Could not find the file /no/such in container ${c}\n`);
  const noLocal = await berth(['cp', local('nothing'), `${c}:/tmp`]);
  assert.equal(noLocal.err, `lstat ${local('nothing')}: no such file or directory\n`);
  assert.equal((await berth(['cp', 'a', 'b'])).err, 'must specify at least one container source\n');
  assert.equal((await berth(['cp', `${c}:/a`, `${c}:/b`])).err, 'copying between containers is not supported\n');
  assert.equal((await ok(['container', 'cp', `${c}:/renamed/sub/file`, local('via-container')])).code, 0);
  assert.equal(readFileSync(local('via-container'), 'utf8'), 'payload\n');
});

test('diff prints Docker\'s A/C/D lines', { skip: why || false }, async () => {
  const c = await container('echo x > /tmp/new; rm /etc/group; echo y >> /etc/passwd');
  const r = await ok(['diff', c]);
  assert.equal(r.out.toString(), 'C /etc\nD /etc/group\nC /etc/passwd\nA /ready\nC /tmp\nA /tmp/new\n');
  const bad = await berth(['diff', 'no-such-container']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^Error response from daemon: No such container: no-such-container/);
});

test('commit prints the new image id, tags it, and the image runs with the committed file', { skip: why || false }, async () => {
  const c = await container('echo committed > /tmp/c');
  const r = await ok(['commit', '-a', 'me', '-m', 'msg', '-c', 'ENV X=1', '-c', 'CMD ["cat", "/tmp/c"]', c, `cli${process.pid}:t`]);
  const id = r.out.toString().trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  const img = await createContainer(e.core, { image: `cli${process.pid}:t`, options: { cmd: ['sh', '-c', 'test "$(cat /tmp/c)" = committed && test "$X" = 1'] } });
  await startContainer(e.core, img.id);
  assert.equal(await waitContainer(e.core, img.id), 0, 'the committed file and the ENV change are in the image');
  await removeContainer(e.core, img.id, { force: true });
  const rec = (await imageStore(e.core.images).get(id))!;
  const cfg = await readImageConfig(e.core.images, rec, 'test');
  assert.equal(cfg.author, 'me');
  assert.equal(cfg.history!.at(-1)!.comment, 'msg');
  assert.deepEqual(cfg.config!.Cmd, ['cat', '/tmp/c']);
  assert.equal(await imageStore(e.core.images).getTag(`docker.io/library/cli${process.pid}:t`), id);
  const bad = await berth(['commit', '-c', 'BOGUS x', c]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /BOGUS is not a valid change command/);
  assert.equal((await berth(['commit', c, 'UPPER'])).code, 1);
});

test('export writes the whole filesystem to -o FILE or a pipe, and refuses a terminal', { skip: why || false }, async () => {
  const c = await container('echo exported > /root/mine');
  await ok(['export', '-o', local('fs.tar'), c]);
  const t = await tarNames(readFileSync(local('fs.tar')));
  assert.ok(t.get('bin/busybox')!.length > 100000, 'bin/busybox');
  assert.equal(t.get('root/mine'), 'exported\n');
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'no temporary file left');
  const piped = await tarNames((await ok(['export', c])).out);
  assert.equal(piped.get('root/mine'), 'exported\n');
  const bad = await berth(['export', '-o', local('none/x.tar'), c]);
  assert.equal(bad.err, `failed to export container: invalid output path: directory "${local('none')}" does not exist\n`);

  // a terminal on stdout (in process, in a command context of its own: see src/cli/context.ts)
  const errs: string[] = [];
  const ctx: CliContext = {
    io: {
      out: Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { isTTY: true }),
      err: Object.assign(new Writable({ write: (ch: Buffer, _e, cb) => { errs.push(ch.toString()); cb(); } }), { isTTY: false }),
      in: Readable.from([]),
    },
    env: { ...process.env, BERTH_ROOT: e.root, BERTH_RUN_ROOT: e.runRoot },
    signals: new EventEmitter(),
    slots: new Map(),
  };
  installEnvProxy();
  const { run } = await import('../../src/cli/container/export.js');
  assert.equal(await runInContext(ctx, () => run([c])), 1);
  assert.equal(errs.join(''), 'cowardly refusing to save to a terminal. Use the -o flag or redirect\n');
});
