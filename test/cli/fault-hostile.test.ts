/**
 * Fault suite: hostile input on the user-facing parsers — env files, label files, archives for
 * `load` / `import` / `cp`, image configs inside an archive. Each gets a clear error (one line,
 * no stack, no Node message), and nothing half-made is left: no image, no container, no temp file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { cannotRun, messageLines, withCli, type Cli, type Result } from './run-util.js';

const skip = cannotRun();

function noStack(what: string, r: Result): void {
  assert.ok(r.signal === null, `${what}: killed by ${r.signal}`);
  assert.doesNotMatch(r.err, /^\s+at .+:\d+:\d+\)?$/m, `${what}: a stack trace\n${r.err}`);
  assert.doesNotMatch(r.err, /node:internal|^node: |Node\.js v\d|\[object Object\]|undefined/m, `${what}: ${r.err}`);
}

/** A tar of `entries` (name → content, or a header for links). */
function tarOf(entries: Array<{ name: string; data?: string | Buffer; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string }>): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
    p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644 }, data ?? Buffer.alloc(0));
  }
  p.finalize();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    p.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
}

/** What an image store holds that a failed command must not change. */
function storeState(root: string): string {
  const list = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
  return JSON.stringify({ blobs: list(join(root, 'content/blobs/sha256')), images: list(join(root, 'images')), tmp: list(join(root, 'tmp')) });
}

test('hostile env and label files: a clear error or the variables, never a crash', { skip }, () => withCli(async (c: Cli) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hostile-env-'));
  try {
    const cases: Array<[string, string | Buffer]> = [
      ['binary', randomBytes(4096)],
      ['nul', 'A=1\0B=2\n'],
      ['empty-name', '=value\n'],
      ['spaces', 'BAD NAME=x\n'],
      ['long', `A=${'x'.repeat(200000)}\n`],
      ['bom', '\ufeffA=1\n'],
      ['invalid-utf8', Buffer.from([0x41, 0x3d, 0xff, 0xfe, 0x0a])],
      ['only-comments', '# nothing\n\n   \n'],
    ];
    for (const [name, content] of cases) {
      const f = join(dir, name);
      writeFileSync(f, content);
      for (const flag of ['--env-file', '--label-file']) {
        const r = await c.berth(['create', flag, f, 'busybox']);
        noStack(`${flag} ${name}`, r);
        assert.ok(r.code === 0 || r.code === 125, `${flag} ${name}: exit ${r.code}\n${r.err}`);
        if (r.code !== 0) assert.equal(messageLines(r.err).length, 1, `${flag} ${name}: ${r.err}`);
        if (r.code === 0) await c.ok(['rm', r.out.trim()]);
      }
    }
    const r = await c.berth(['create', '--env-file', dir, 'busybox']);
    assert.equal(r.code, 125);
    assert.match(r.err, /read .*is a directory|is a directory/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
}));

test('hostile archives for load and import: one clear line each, nothing half-made', { skip }, () => withCli(async (c: Cli) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hostile-tar-'));
  try {
    const good = join(dir, 'good.tar');
    await c.ok(['save', '-o', good, 'busybox']);
    const goodBytes = readFileSync(good);
    const layerEntry = { name: 'layer.tar', data: await tarOf([{ name: 'f', data: 'x' }]) };
    const archives: Array<[string, Buffer]> = [
      ['random bytes', randomBytes(10000)],
      ['empty file', Buffer.alloc(0)],
      ['zeros', Buffer.alloc(10240)],
      ['truncated header', goodBytes.subarray(0, 700)],
      ['truncated in the middle', goodBytes.subarray(0, Math.floor(goodBytes.length / 2))],
      ['no manifest', await tarOf([{ name: 'hello', data: 'x' }])],
      ['manifest not JSON', await tarOf([{ name: 'manifest.json', data: '{not json' }])],
      ['manifest of the wrong shape', await tarOf([{ name: 'manifest.json', data: '{"Config": 5}' }])],
      ['manifest escaping the archive', await tarOf([{ name: 'manifest.json', data: JSON.stringify([{ Config: '../../../etc/passwd', RepoTags: ['evil:1'], Layers: ['../../../etc/shadow'] }]) }])],
      ['config not JSON', await tarOf([{ name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:2'], Layers: ['layer.tar'] }]) }, { name: 'c.json', data: 'nope' }, layerEntry])],
      ['config of the wrong shape', await tarOf([{ name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:3'], Layers: ['layer.tar'] }]) }, { name: 'c.json', data: JSON.stringify({ rootfs: { type: 'layers', diff_ids: 'x' }, config: { Env: 7 } }) }, layerEntry])],
      ['config with diff_ids that do not match', await tarOf([{ name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:4'], Layers: ['layer.tar'] }]) }, { name: 'c.json', data: JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] }, config: {} }) }, layerEntry])],
      ['a bad tag', await tarOf([{ name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['UPPER:case'], Layers: [] }]) }, { name: 'c.json', data: JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }) }])],
      ['a symlinked manifest', await tarOf([{ name: 'manifest.json', type: 'symlink', linkname: '/etc/passwd' }])],
    ];
    const before = storeState(c.root);
    const imagesBefore = await c.ok(['images', '-q', '--no-trunc']);
    for (const [what, bytes] of archives) {
      const f = join(dir, 'a.tar');
      writeFileSync(f, bytes);
      const r = await c.berth(['load', '-i', f]);
      noStack(`load: ${what}`, r);
      assert.notEqual(r.code, 0, `load: ${what}: accepted\n${r.out}`);
      assert.equal(messageLines(r.err).length, 1, `load: ${what}: one line\n${r.err}`);
      const fromStdin = await c.berth(['load'], { input: bytes });
      noStack(`load < ${what}`, fromStdin);
      assert.notEqual(fromStdin.code, 0, `load < ${what}: accepted`);
      assert.equal(await c.ok(['images', '-q', '--no-trunc']), imagesBefore, `load: ${what}: the image list changed`);
      assert.equal(storeState(c.root), before, `load: ${what}: the store changed`);
    }
    for (const [what, bytes] of archives.slice(0, 5)) {
      const f = join(dir, 'i.tar');
      writeFileSync(f, bytes);
      const r = await c.berth(['import', f, 'imported:x']);
      noStack(`import: ${what}`, r);
      if (r.code !== 0) assert.equal(messageLines(r.err).length, 1, `import: ${what}: one line\n${r.err}`);
      else await c.ok(['rmi', 'imported:x']);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
}));

test('hostile archives into cp: a clear error, nothing written outside the destination', { skip }, () => withCli(async (c: Cli) => {
  await c.ok(['create', '--name', 'cpdst', 'busybox']);
  const marker = `berth-cp-escape-${process.pid}`;
  const archives: Array<[string, Buffer]> = [
    ['random bytes', randomBytes(5000)],
    ['dot-dot entry', await tarOf([{ name: `../../../../tmp/${marker}`, data: 'x' }])],
    ['absolute entry', await tarOf([{ name: `/tmp/${marker}`, data: 'x' }])],
    ['symlink then through it', await tarOf([{ name: 'l', type: 'symlink', linkname: '/tmp' }, { name: `l/${marker}`, data: 'x' }])],
    ['hard link to the host', await tarOf([{ name: 'h', type: 'link', linkname: '/etc/passwd' }])],
  ];
  for (const [what, bytes] of archives) {
    const r = await c.berth(['cp', '-', 'cpdst:/tmp'], { input: bytes });
    noStack(`cp: ${what}`, r);
    if (r.code !== 0) assert.equal(messageLines(r.err).length, 1, `cp: ${what}: one line\n${r.err}`);
    assert.ok(!existsSync(`/tmp/${marker}`), `cp: ${what}: wrote on the host`);
    assert.ok(!existsSync(`/${marker}`), `cp: ${what}: wrote on the host`);
  }
  await c.ok(['rm', 'cpdst']);
}));
