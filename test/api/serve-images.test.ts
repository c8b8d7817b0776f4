/**
 * `berth serve`: the image endpoints beyond list/pull/inspect/tag/rmi, driven by the docker CLI 28:
 * save/load, history, import, prune, search; the per-version fields of list/inspect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { history } from '../../src/image/index.js';
import { cannotServe, DOCKER, withServer, type Served } from './util.js';

const skip = cannotServe();

/** A shell pipeline of docker commands on the server's socket (`$D` is `docker -H …`). */
function sh(s: Served, script: string, cwd: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('sh', ['-c', script], {
    cwd, encoding: 'utf8', timeout: 120_000,
    env: { PATH: process.env.PATH, HOME: cwd, DOCKER_CONFIG: join(cwd, '.docker'), D: `${DOCKER} -H unix://${s.socket}` },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('docker save | docker load round trip; GET /images/{name}/get; the archive names its tags', { skip, timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-apisave-'));
  try {
    await withServer(async (s) => {
      assert.equal((await s.docker(['tag', 'busybox:latest', 'rt:1'])).code, 0);
      const id = (await s.docker(['image', 'inspect', 'rt:1', '--format', '{{.Id}}'])).out.trim();
      const saved = await s.docker(['save', '-o', join(dir, 'out.tar'), 'rt:1', 'busybox']);
      assert.equal(saved.code, 0, saved.err);
      const manifest = JSON.parse(spawnSync('tar', ['-xOf', join(dir, 'out.tar'), 'manifest.json'], { encoding: 'utf8' }).stdout);
      assert.deepEqual(manifest.flatMap((m: { RepoTags: string[] }) => m.RepoTags).sort(), ['busybox:latest', 'rt:1']);
      assert.equal((await s.docker(['rmi', 'rt:1'])).code, 0);
      const loaded = await s.docker(['load', '-i', join(dir, 'out.tar')]);
      assert.equal(loaded.code, 0, loaded.err);
      assert.match(loaded.out, /^Loaded image: rt:1$/m);
      assert.match(loaded.out, /^Loaded image: busybox:latest$/m);
      assert.equal((await s.docker(['image', 'inspect', 'rt:1', '--format', '{{.Id}}'])).out.trim(), id);
      const evs = s.core.store.events.query({}).filter((e) => e.type === 'image').map((e) => `${e.action} ${e.actor.id} ${e.actor.attributes.name ?? ''}`.trim());
      // as moby: one save per image (both names are one image here), save and load named by the id
      assert.deepEqual(evs, [`tag ${id} rt:1`, `save ${id} ${id}`, `untag ${id} rt:1`, `load ${id} ${id}`], evs.join('\n'));
      // through a pipe, after removing it again
      assert.equal((await s.docker(['rmi', 'rt:1'])).code, 0);
      const pipe = sh(s, '$D tag busybox:latest rt:2 && $D save rt:2 | $D load', dir);
      assert.equal(pipe.code, 0, pipe.err);
      assert.match(pipe.out, /^Loaded image: rt:2$/m);
      const gz = sh(s, '$D save busybox:latest | gzip | $D load', dir);
      assert.equal(gz.out, 'Loaded image: busybox:latest\n', gz.err);
      const tarball = spawnSync(DOCKER, ['-H', `unix://${s.socket}`, 'save', 'rt:2'], { maxBuffer: 64 << 20, env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: join(dir, '.docker') } }).stdout;
      const verbose = await new Promise<string>((resolve, reject) => {
        const req = request({ socketPath: s.socket, method: 'POST', path: '/v1.47/images/load?quiet=0', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
          let t = '';
          res.on('data', (d: Buffer) => { t += d.toString(); });
          res.on('end', () => resolve(t));
        });
        req.on('error', reject);
        req.end(tarball);
      });
      const msgs = verbose.trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(msgs.some((m) => m.status === 'Loading layer' && /^[0-9a-f]{12}$/.test(m.id) && m.progressDetail.total > 0), verbose);
      assert.deepEqual(msgs.at(-1), { stream: 'Loaded image: rt:2\n' });
      const run = await s.docker(['run', '--rm', 'rt:2', 'echo', 'loaded']);
      assert.equal(run.out, 'loaded\n', run.err);
      const one = await s.http('GET', '/v1.47/images/rt:2/get');
      assert.equal(one.status, 200);
      assert.equal(one.headers['content-type'], 'application/x-tar');
      const missing = await s.docker(['save', '-o', join(dir, 'x.tar'), 'nosuch:1']);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /Error response from daemon: .*nosuch/);
      writeFileSync(join(dir, 'junk.tar'), 'not a tar at all');
      const junk = await s.docker(['load', '-i', join(dir, 'junk.tar')]);
      assert.equal(junk.code, 1);
      assert.match(junk.err, /load/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('docker history, import (changes, message, tag), image prune (dangling, -a with a label filter), search', { skip, timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-apiimp-'));
  try {
    await withServer(async (s) => {
      const rows = await history(s.core.images, 'busybox:latest');
      const h = await s.docker(['history', '--no-trunc', '--format', '{{.ID}}|{{.Size}}|{{.CreatedBy}}', 'busybox']);
      assert.equal(h.code, 0, h.err);
      const lines = h.out.trim().split('\n');
      assert.equal(lines.length, rows.length);
      assert.equal(lines[0]!.split('|')[0], rows[0]!.id);
      assert.equal(lines[0]!.split('|')[2], rows[0]!.createdBy);
      const hist = JSON.parse((await s.http('GET', '/v1.47/images/busybox/history')).body);
      assert.deepEqual(Object.keys(hist[0]).sort(), ['Comment', 'Created', 'CreatedBy', 'Id', 'Size', 'Tags']);
      assert.deepEqual(hist[0].Tags, ['busybox:latest']);

      // import: a root filesystem tar with one file
      const root = join(dir, 'root');
      spawnSync('mkdir', ['-p', root]);
      writeFileSync(join(root, 'hello'), 'imported\n');
      spawnSync('tar', ['-C', root, '-cf', join(dir, 'root.tar'), '.']);
      const imp = await s.docker(['import', '-c', 'ENV A=1', '-c', 'CMD ["/hello"]', '-c', 'LABEL pr=1', '-m', 'from a test', join(dir, 'root.tar'), 'imp:1']);
      assert.equal(imp.code, 0, imp.err);
      assert.match(imp.out, /^sha256:[0-9a-f]{64}\n$/);
      const ins = await s.docker(['image', 'inspect', 'imp:1', '--format', '{{json .Config.Env}} {{json .Config.Cmd}} {{len .RootFS.Layers}} {{.Id}}']);
      assert.equal(ins.out, `["A=1"] ["/hello"] 1 ${imp.out}`);
      const ih = await s.docker(['history', '--format', '{{.Comment}}', 'imp:1']);
      assert.equal(ih.out, 'from a test\n');
      // its file, seen from a build
      const ctx = join(dir, 'ctx');
      spawnSync('mkdir', ['-p', ctx]);
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY --from=imp:1 /hello /hello\n');
      const b = sh(s, 'DOCKER_BUILDKIT=0 $D build -q -t imp-check:1 . >/dev/null && $D run --rm imp-check:1 cat /hello', ctx);
      assert.equal(b.out, 'imported\n', b.err);

      // an untagged import is dangling: prune removes it, and only it
      const dangling = (await s.docker(['import', join(dir, 'root.tar')])).out.trim();
      assert.match(dangling, /^sha256:[0-9a-f]{64}$/);
      const p = await s.docker(['image', 'prune', '-f']);
      assert.equal(p.code, 0, p.err);
      assert.match(p.out, new RegExp(`^deleted: ${dangling}$`, 'm'));
      assert.match(p.out, /Total reclaimed space: /);
      assert.notEqual((await s.docker(['image', 'inspect', dangling])).code, 0);
      assert.equal((await s.docker(['image', 'inspect', 'imp:1'])).code, 0);
      // -a with a label filter: the labelled unused image goes; busybox stays
      const pa = await s.docker(['image', 'prune', '-a', '-f', '--filter', 'label=pr=1']);
      assert.equal(pa.code, 0, pa.err);
      assert.match(pa.out, /^untagged: imp:1$/m);
      assert.notEqual((await s.docker(['image', 'inspect', 'imp:1'])).code, 0);
      assert.equal((await s.docker(['image', 'inspect', 'busybox'])).code, 0);
      const none = JSON.parse((await s.http('POST', '/v1.47/images/prune')).body);
      assert.deepEqual(none, { ImagesDeleted: null, SpaceReclaimed: 0 });
      const badf = await s.http('POST', `/v1.47/images/prune?filters=${encodeURIComponent('{"nosuch":["x"]}')}`);
      assert.equal(badf.status, 400);

      const search = await s.docker(['search', 'busybox']);
      assert.equal(search.code, 1);
      assert.match(search.err, /search is not supported by berth serve/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('images list and inspect per API version: VirtualSize before 1.44 only', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const old = JSON.parse((await s.http('GET', '/v1.43/images/json')).body);
    assert.equal(old[0].VirtualSize, old[0].Size);
    const now = JSON.parse((await s.http('GET', '/v1.47/images/json')).body);
    assert.equal(now[0].VirtualSize, undefined);
    const oi = JSON.parse((await s.http('GET', '/v1.43/images/busybox/json')).body);
    assert.equal(oi.VirtualSize, oi.Size);
    const ni = JSON.parse((await s.http('GET', '/v1.47/images/busybox/json')).body);
    assert.equal(ni.VirtualSize, undefined);
  });
});
