/**
 * `berth serve`: `POST /build`, the classic protocol, driven by `DOCKER_BUILDKIT=0 docker build`
 * (CLI 28), docker-py and plain HTTP; checked on the output, the image's config and its files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cannotServe, DOCKER, withServer, type Served } from './util.js';

const skip = cannotServe();

/** `docker ARGS` with the classic builder (DOCKER_BUILDKIT=0) and a config dir of its own. */
function classic(s: Served, args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(DOCKER, ['-H', `unix://${s.socket}`, ...args], {
      cwd, env: { PATH: process.env.PATH, HOME: cwd, DOCKER_CONFIG: join(cwd, '.docker'), DOCKER_BUILDKIT: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-apibuild-'));
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  return dir;
}

/** A raw `POST /build` with a tar body; the response's JSON lines. */
function rawBuild(s: Served, query: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; lines: Record<string, any>[]; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: s.socket, method: 'POST', path: `/v1.47/build?${query}`, headers: { 'Content-Type': 'application/x-tar', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, text,
        lines: res.headers['content-type'] === 'application/json' ? text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)) : [],
      }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const tarOf = (dir: string): Buffer => spawnSync('tar', ['-C', dir, '-cf', '-', '.'], { maxBuffer: 64 << 20 }).stdout;

test('docker build (classic): steps, RUN output, tags, build args, labels, -f; the image config and files', { skip, timeout: 300_000 }, async () => {
  const ctx = context({
    'hello.txt': 'hello from the context\n',
    'sub/Dockerfile.custom': [
      'FROM busybox', 'ARG GREETING=hi', 'COPY hello.txt /hello.txt', 'RUN echo "$GREETING from run" && echo built > /built.txt',
      'LABEL a=b', 'CMD ["cat", "/hello.txt"]', '',
    ].join('\n'),
  });
  try {
    await withServer(async (s) => {
      const b = await classic(s, ['build', '-t', 'api-b:1', '-t', 'api-b:2', '--build-arg', 'GREETING=yo', '--label', 'x=y', '-f', 'sub/Dockerfile.custom', '.'], ctx);
      assert.equal(b.code, 0, b.err + b.out);
      const out = b.out;
      assert.match(out, /^Step 1\/6 : FROM busybox\n ---> [0-9a-f]{12}\n/m);
      assert.match(out, /^Step 3\/6 : COPY hello.txt \/hello.txt$/m);
      assert.match(out, /^Step 4\/6 : RUN echo "\$GREETING from run" && echo built > \/built.txt\n ---> Running in ([0-9a-f]{12})\nyo from run\n ---> Removed intermediate container \1\n/m);
      assert.match(out, /^Step 6\/6 : CMD \["cat", "\/hello.txt"\]$/m);
      const built = /^Successfully built ([0-9a-f]{12})$/m.exec(out)?.[1];
      assert.ok(built, out);
      assert.match(out, /^Successfully tagged api-b:1\nSuccessfully tagged api-b:2\n$/m);
      const ins = await s.docker(['image', 'inspect', 'api-b:1', '--format', '{{.Id}} {{json .Config.Labels}} {{json .Config.Cmd}}']);
      assert.match(ins.out, new RegExp(`^sha256:${built}[0-9a-f]{52} \\{"a":"b","x":"y"\\} \\["cat","/hello.txt"\\]\n$`));
      const run = await s.docker(['run', '--rm', 'api-b:2']);
      assert.equal(run.out, 'hello from the context\n', run.err);
      const f = await s.docker(['run', '--rm', 'api-b:1', 'cat', '/built.txt']);
      assert.equal(f.out, 'built\n', f.err);
      // again: every step from the cache, the same image
      const again = await classic(s, ['build', '-q', '-t', 'api-b:1', '--build-arg', 'GREETING=yo', '--label', 'x=y', '-f', 'sub/Dockerfile.custom', '.'], ctx);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, new RegExp(`^sha256:${built}[0-9a-f]{52}\\n$`));
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});

test('docker build (classic): a failing RUN is an in-band error with its exit code; nothing left behind', { skip, timeout: 300_000 }, async () => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo going && exit 3\n' });
  try {
    await withServer(async (s) => {
      const b = await classic(s, ['build', '-t', 'api-fail:1', '.'], ctx);
      assert.equal(b.code, 3, b.out + b.err);
      assert.match(b.out, /^going$/m);
      assert.match(b.err, /The command '\/bin\/sh -c echo going && exit 3' returned a non-zero code: 3/);
      assert.equal(s.core.store.containers.list({ all: true }).length, 0);
      assert.notEqual((await s.docker(['image', 'inspect', 'api-fail:1'])).code, 0);
      const bad = await rawBuild(s, 'dockerfile=nosuch', tarOf(ctx));
      assert.equal(bad.status, 400);
      assert.match(JSON.parse(bad.text).message, /Cannot locate specified Dockerfile: nosuch/);
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});

test('POST /build: gzip context, target, q, buildargs/labels JSON, version=2 refused, bad platform', { skip, timeout: 300_000 }, async () => {
  const ctx = context({ Dockerfile: 'FROM busybox AS one\nARG V\nRUN echo "one $V" > /one\nFROM one AS two\nRUN echo two > /two\n' });
  try {
    await withServer(async (s) => {
      const body = gzipSync(tarOf(ctx));
      const r = await rawBuild(s, `t=api-t%3A1&target=one&buildargs=${encodeURIComponent('{"V":"vee"}')}&labels=${encodeURIComponent('{"l":"1"}')}`, body);
      assert.equal(r.status, 200, r.text);
      const id = r.lines.find((l) => l.aux)?.aux.ID as string;
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      assert.ok(r.lines.some((l) => l.stream === `Successfully built ${id.slice(7, 19)}\n`), r.text);
      assert.ok(r.lines.some((l) => l.stream === 'Step 1/3 : FROM busybox AS one\n'), r.text);
      assert.ok(!r.lines.some((l) => /Step 4\//.test(l.stream ?? '')), 'the target stops the build');
      const cat = await s.docker(['run', '--rm', 'api-t:1', 'cat', '/one']);
      assert.equal(cat.out, 'one vee\n');
      assert.equal((await s.docker(['image', 'inspect', 'api-t:1', '--format', '{{.Config.Labels.l}}'])).out, '1\n');
      const q = await rawBuild(s, 'q=1&target=one&buildargs=%7B%22V%22%3A%22vee%22%7D', tarOf(ctx));
      const qid = q.lines.find((l) => l.aux)?.aux.ID as string;
      assert.match(qid, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(q.lines.filter((l) => l.stream), [{ stream: `${qid}\n` }], q.text);
      const v2 = await rawBuild(s, 'version=2', tarOf(ctx));
      assert.equal(v2.status, 400);
      assert.match(JSON.parse(v2.text).message, /BuildKit.*not supported/);
      assert.equal((await rawBuild(s, 'squash=1', tarOf(ctx))).status, 400);
      const plat = await rawBuild(s, 'platform=foo/bar/baz/qux', tarOf(ctx));
      assert.equal(plat.status, 400);
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});

test('docker-py builds over berth serve (gzip, buildargs) and reads the image id', { skip: skip ?? (spawnSync('python3', ['-c', 'import docker']).status === 0 ? undefined : 'no docker-py'), timeout: 300_000 }, async () => {
  const ctx = context({ Dockerfile: 'FROM busybox\nARG X\nRUN echo "py $X" > /py\n' });
  try {
    await withServer(async (s) => {
      const script = [
        'import docker, sys', `c = docker.DockerClient(base_url="unix://${s.socket}")`,
        `img, logs = c.images.build(path="${ctx}", tag="pyimg:1", buildargs={"X": "ok"}, gzip=True, rm=True)`,
        'print(img.id)', 'print("".join(l.get("stream", "") for l in logs), file=sys.stderr)',
        `try:\n    c.images.build(path="${ctx}", dockerfile="nosuch")\nexcept docker.errors.APIError as e:\n    print("APIError", e.status_code)`,
      ].join('\n');
      const r = spawnSync('python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      const [id, apiErr] = r.stdout.trim().split('\n');
      assert.match(id!, /^sha256:[0-9a-f]{64}$/);
      assert.equal(apiErr, 'APIError 400');
      const run = await s.docker(['run', '--rm', 'pyimg:1', 'cat', '/py']);
      assert.equal(run.out, 'py ok\n');
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});

test('POST /build: a client that goes away mid-RUN cancels the build and leaves nothing', { skip, timeout: 300_000 }, async () => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo started && sleep 60\n' });
  try {
    await withServer(async (s) => {
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: s.socket, method: 'POST', path: '/v1.47/build?t=api-cancel%3A1', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
          res.on('data', (d: Buffer) => { if (d.toString().includes('started')) { req.destroy(); resolve(); } });
        });
        req.on('error', () => undefined);
        setTimeout(() => reject(new Error('the RUN never started')), 60_000);
        req.end(tarOf(ctx));
      });
      const t0 = Date.now();
      while (s.core.store.containers.list({ all: true }).length && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 200));
      assert.equal(s.core.store.containers.list({ all: true }).length, 0, 'the step container is gone');
      assert.notEqual((await s.docker(['image', 'inspect', 'api-cancel:1'])).code, 0);
      const imgs = await s.docker(['images', '-a', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.deepEqual(imgs.out.trim().split('\n').sort(), ['busybox:latest']);
      assert.ok(Date.now() - t0 < 20_000);
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});

test('docker build (classic): cache lines, --no-cache, --add-host; docker-compose 1.29 builds a service', { skip, timeout: 300_000 }, async () => {
  const ctx = context({
    Dockerfile: 'FROM busybox\nRUN grep myhost /etc/hosts > /hosts-line\nRUN echo two > /two\n',
    'Dockerfile.compose': 'FROM busybox\nARG GREET\nRUN echo "$GREET" > /greet\n',
    'docker-compose.yml': 'version: "2.4"\nservices:\n  web:\n    build:\n      context: .\n      dockerfile: Dockerfile.compose\n      args:\n        GREET: composed\n    image: cbuild:1\n',
  });
  try {
    await withServer(async (s) => {
      const first = await classic(s, ['build', '--add-host', 'myhost:10.1.2.3', '-t', 'api-h:1', '.'], ctx);
      assert.equal(first.code, 0, first.err + first.out);
      assert.doesNotMatch(first.out, /Using cache/);
      assert.equal((await s.docker(['run', '--rm', 'api-h:1', 'cat', '/hosts-line'])).out, '10.1.2.3\tmyhost\n');
      const cached = await classic(s, ['build', '--add-host', 'myhost:10.1.2.3', '-t', 'api-h:1', '.'], ctx);
      assert.match(cached.out, /^Step 2\/3 : RUN grep myhost \/etc\/hosts > \/hosts-line\n ---> Using cache\n/m);
      const fresh = await classic(s, ['build', '--no-cache', '--add-host', 'myhost:10.1.2.3', '-t', 'api-h:1', '.'], ctx);
      assert.equal(fresh.code, 0, fresh.err);
      assert.doesNotMatch(fresh.out, /Using cache/);
      // docker-compose 1.29 (docker-py 5): the classic POST /build, the id read from the stream
      const dc = spawnSync('docker-compose', ['build'], { cwd: ctx, encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, HOME: ctx, DOCKER_HOST: `unix://${s.socket}`, COMPOSE_DOCKER_CLI_BUILD: '0' } });
      if (dc.error || dc.status === null) return;
      assert.equal(dc.status, 0, dc.stdout + dc.stderr);
      assert.match(dc.stdout + dc.stderr, /Successfully tagged cbuild:1/);
      assert.equal((await s.docker(['run', '--rm', 'cbuild:1', 'cat', '/greet'])).out, 'composed\n');
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});

test('docker build (classic) --cache-from after docker builder prune: the image\'s recorded steps serve, the same image', { skip, timeout: 300_000 }, async () => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY f /f\nRUN cat /f /one > /both\n', f: 'eff\n' });
  try {
    await withServer(async (s) => {
      const first = await classic(s, ['build', '-q', '-t', 'api-cf:1', '.'], ctx);
      assert.equal(first.code, 0, first.err + first.out);
      const pruned = await classic(s, ['builder', 'prune', '-af'], ctx);
      assert.equal(pruned.code, 0, pruned.err);
      assert.match(pruned.out, /Total reclaimed space:\s+[1-9]/, 'the cache had something to prune');
      const plain = await classic(s, ['build', '-t', 'api-cf:2', '.'], ctx);
      assert.doesNotMatch(plain.out, /Using cache/, 'the prune emptied the cache');
      await classic(s, ['builder', 'prune', '-af'], ctx);
      const seeded = await classic(s, ['build', '--cache-from', 'api-cf:1', '-q', '-t', 'api-cf:3', '.'], ctx);
      assert.equal(seeded.code, 0, seeded.err + seeded.out);
      assert.equal(seeded.out.trim(), first.out.trim(), 'the same image as the first build');
      const again = await classic(s, ['build', '--cache-from', 'api-cf:1', '-t', 'api-cf:4', '.'], ctx);
      assert.equal((again.out.match(/ ---> Using cache/g) ?? []).length, 3, again.out);
      const bad = await s.http('POST', `/build?cachefrom=${encodeURIComponent('"x"')}`);
      assert.equal(bad.status, 400, bad.body);
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});
