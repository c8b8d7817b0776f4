/**
 * `berth serve` against a local registry: docker login (`POST /auth`), docker push (X-Registry-Auth,
 * moby's progress stream), distribution inspect; a server killed mid-pull leaves no half image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { closeContext, importRootfs, push, tag } from '../../src/image/index.js';
import { haveRegistry, startRegistry } from '../helpers/registry.js';
import { cannotServe, DOCKER, withServer, type Served } from './util.js';

const skip = cannotServe() ?? (haveRegistry() ? undefined : 'no docker-registry');

function get(s: Served, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: s.socket, method: 'GET', path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('docker login and push to a registry with basic auth; distribution inspect', { skip, timeout: 300_000 }, async () => {
  const reg = await startRegistry({ auth: 'htpasswd' });
  try {
    await withServer(async (s) => {
      const ref = `${reg.host}/team/bb:1`;
      assert.equal((await s.docker(['tag', 'busybox:latest', ref])).code, 0);
      const anon = await s.docker(['push', ref]);
      assert.equal(anon.code, 1, anon.out);
      assert.match(anon.out + anon.err, /unauthorized|authentication required/);
      const wrong = await s.docker(['login', '-u', 'tester', '--password-stdin', reg.host], { input: 'nope\n' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.err, /Error response from daemon: .*unauthorized/);
      const login = await s.docker(['login', '-u', 'tester', '--password-stdin', reg.host], { input: 'secret-pw\n' });
      assert.equal(login.code, 0, login.err);
      assert.match(login.out, /Login Succeeded/);
      const p = await s.docker(['push', ref]);
      assert.equal(p.code, 0, p.err);
      assert.match(p.out, new RegExp(`^The push refers to repository \\[${reg.host.replace(/\./g, '\\.')}/team/bb\\]$`, 'm'));
      assert.match(p.out, /^[0-9a-f]{12}: Pushed$/m);
      const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(p.out)?.[1];
      assert.ok(digest, p.out);
      // the registry has it under that digest
      const auth = `Basic ${Buffer.from('tester:secret-pw').toString('base64')}`;
      const m = await fetch(`${reg.url}/v2/team/bb/manifests/1`, { method: 'HEAD', headers: { Authorization: auth, Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(m.headers.get('docker-content-digest'), digest);
      // pulled back with the client's credentials (X-Registry-Auth)
      assert.equal((await s.docker(['rmi', ref])).code, 0);
      const pulled = await s.docker(['pull', ref]);
      assert.equal(pulled.code, 0, pulled.err);
      assert.match(pulled.out, new RegExp(`^Digest: ${digest}$`, 'm'));
      const again = await s.docker(['push', ref]);
      assert.match(again.out, /^[0-9a-f]{12}: Layer already exists$/m);
      // distribution inspect with the client's credentials
      const xauth = Buffer.from(JSON.stringify({ username: 'tester', password: 'secret-pw', serveraddress: reg.host })).toString('base64url');
      const d = await get(s, `/v1.47/distribution/${ref}/json`, { 'X-Registry-Auth': xauth });
      assert.equal(d.status, 200, d.body);
      assert.equal(JSON.parse(d.body).Descriptor.digest, digest);
      assert.deepEqual(JSON.parse(d.body).Platforms.map((p: { os: string }) => p.os), ['linux']);
      const missing = await s.docker(['push', `${reg.host}/team/nosuch:1`]);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /An image does not exist locally with the tag/);
    });
  } finally {
    await reg.stop();
  }
});

/** A TCP proxy to `target` that sends the registry's answers slowly (about 1 MB/s). */
async function slowProxy(target: string): Promise<{ host: string; close(): void }> {
  const [h, port] = target.split(':');
  const socks: Socket[] = [];
  const server = createServer((client) => {
    const up = connect(Number(port), h!);
    socks.push(client, up);
    client.pipe(up);
    up.on('data', (d: Buffer) => {
      up.pause();
      let off = 0;
      const step = () => {
        if (client.destroyed) return;
        client.write(d.subarray(off, off + 32768));
        off += 32768;
        if (off < d.length) setTimeout(step, 30); else setTimeout(() => up.resume(), 30);
      };
      step();
    });
    up.on('end', () => client.end());
    const kill = () => { client.destroy(); up.destroy(); };
    client.on('error', kill); up.on('error', kill); client.on('close', kill); up.on('close', kill);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return { host: `127.0.0.1:${addr.port}`, close: () => { for (const s of socks) s.destroy(); server.close(); } };
}

/** A root filesystem tar with one file of random bytes. */
function bigTar(bytes: number): Readable {
  const pack = tar.pack();
  pack.entry({ name: 'big', size: bytes, mode: 0o644 }, randomBytes(bytes));
  pack.finalize();
  return pack as unknown as Readable;
}

test('kill -9 of berth serve mid-pull: no half-written image; after a restart the pull succeeds, listed once', { skip, timeout: 300_000 }, async () => {
  const reg = await startRegistry();
  const proxy = await slowProxy(reg.host);
  try {
    await withServer(async (s) => {
      const direct = `${reg.host}/big/img:1`;
      await importRootfs(s.core.images, bigTar(12 << 20), { reference: direct });
      await push(s.core.images, direct);
      assert.equal((await s.docker(['rmi', direct])).code, 0);
      const ref = `${proxy.host}/big/img`;
      // pull through the slow proxy; kill the server once the layer is downloading
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: s.socket, method: 'POST', path: `/v1.47/images/create?fromImage=${encodeURIComponent(ref)}&tag=1` }, (res) => {
          let buf = '';
          res.on('data', (d: Buffer) => {
            buf += d.toString();
            if (/"status":"Downloading"[^}]*"current":[1-9]/.test(buf)) { s.server.kill('SIGKILL'); resolve(); }
          });
          res.on('error', () => undefined);
          res.on('end', () => reject(new Error(`the pull ended before the kill: ${buf}`)));
        });
        req.on('error', () => undefined);
        req.end();
      });
      await new Promise((r) => (s.server.exitCode !== null || s.server.signalCode !== null ? r(undefined) : s.server.once('exit', r)));
      await s.restart();
      const half = await s.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.ok(!half.out.includes('big/img'), `no image after the kill: ${half.out}`);
      const p = await s.docker(['pull', `${ref}:1`], { timeoutMs: 120_000 });
      assert.equal(p.code, 0, p.err);
      const list = await s.docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}']);
      assert.equal(list.out.split('\n').filter((l) => l.startsWith(`${ref}:1 `)).length, 1, list.out);
      const ins = await s.docker(['image', 'inspect', `${ref}:1`, '--format', '{{len .RootFS.Layers}} {{.Size}}']);
      const [layers, size] = ins.out.trim().split(' ').map(Number);
      assert.equal(layers, 1);
      assert.ok(size! >= 12 << 20, ins.out);
    });
  } finally {
    proxy.close();
    await reg.stop();
  }
});

test('docker build (classic) FROM an image of a registry with basic auth: X-Registry-Config', { skip, timeout: 300_000 }, async () => {
  const reg = await startRegistry({ auth: 'htpasswd' });
  const ctxDir = mkdtempSync(join(tmpdir(), 'berth-apibuild-auth-'));
  try {
    await withServer(async (s) => {
      const base = `${reg.host}/team/base:1`;
      const withCreds = { ...s.core.images, credentials: { get: async () => ({ username: 'tester', password: 'secret-pw' }) } };
      await tag(s.core.images, 'busybox:latest', base);
      await push(withCreds, base);
      await closeContext(withCreds);
      assert.equal((await s.docker(['rmi', base])).code, 0);
      writeFileSync(join(ctxDir, 'Dockerfile'), `FROM ${base}\nRUN echo private > /p\n`);
      const env = { PATH: process.env.PATH, HOME: ctxDir, DOCKER_CONFIG: join(ctxDir, '.docker'), DOCKER_BUILDKIT: '0' };
      const run = (args: string[], input = '') => spawnSync(DOCKER, ['-H', `unix://${s.socket}`, ...args], { cwd: ctxDir, env, input, encoding: 'utf8', timeout: 120_000 });
      const anon = run(['build', '-t', 'from-private:1', '.']);
      assert.equal(anon.status, 1, anon.stdout);
      assert.match(anon.stdout + anon.stderr, /unauthorized|authentication required/);
      assert.equal(run(['login', '-u', 'tester', '--password-stdin', reg.host], 'secret-pw\n').status, 0);
      const b = run(['build', '-t', 'from-private:1', '.']);
      assert.equal(b.status, 0, b.stdout + b.stderr);
      assert.match(b.stdout, /^Successfully tagged from-private:1$/m);
      assert.equal((await s.docker(['run', '--rm', 'from-private:1', 'cat', '/p'])).out, 'private\n');
    });
  } finally {
    rmSync(ctxDir, { recursive: true, force: true });
    await reg.stop();
  }
});
