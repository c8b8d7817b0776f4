import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/lib/index.js';
import { pull, push, tag } from '../../src/image/index.js';
import {
  CredentialStore, RegistryClient, RegistryHosts, TokenCache, parseChallenges,
} from '../../src/image/registry/index.js';
import { haveRegistry, pushBusybox, startRegistry } from '../helpers/registry.js';
import { skopeoJSON, withRoot } from './util.js';

const skip = haveRegistry() ? false : 'docker-registry is not installed';

test('WWW-Authenticate challenges are parsed', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm", Bearer realm="https://x/t",error="insufficient_scope"'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'https://x/t', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges('Bearer realm="a\\"b"'), [{ scheme: 'bearer', params: { realm: 'a"b' } }]);
  assert.deepEqual(parseChallenges(undefined), []);
});

test('hosts: plain http only for localhost and insecure registries; mirrors only for docker.io pulls', () => {
  const h = new RegistryHosts({ insecure: ['reg.lan:5000', '10.0.0.0/8'], mirrors: ['https://mirror.example.com/prefix/', 'http://insecure-mirror.example'] });
  assert.deepEqual(h.endpoints('localhost:5000', 'pull').map((e) => e.schemes), [['https', 'http']]);
  assert.deepEqual(h.endpoints('[::1]:5000', 'pull')[0]!.schemes, ['https', 'http']);
  assert.deepEqual(h.endpoints('127.0.0.1:5000', 'pull')[0]!.schemes, ['https', 'http']);
  assert.deepEqual(h.endpoints('reg.lan:5000', 'pull')[0]!.schemes, ['https', 'http']);
  assert.equal(h.endpoints('reg.lan:5000', 'pull')[0]!.skipVerify, true);
  assert.deepEqual(h.endpoints('10.1.2.3:443', 'push')[0]!.schemes, ['https', 'http']);
  assert.deepEqual(h.endpoints('quay.io', 'pull')[0]!.schemes, ['https']);
  assert.equal(h.endpoints('quay.io', 'pull')[0]!.skipVerify, false);
  const hub = h.endpoints('docker.io', 'pull');
  assert.deepEqual(hub.map((e) => [e.host, e.prefix, e.mirror]), [['mirror.example.com', '/prefix', true], ['registry-1.docker.io', '', false]],
    'the plain-http mirror that is not marked insecure is skipped');
  assert.deepEqual(h.endpoints('docker.io', 'push').map((e) => e.host), ['registry-1.docker.io']);
  assert.throws(() => new RegistryHosts({ mirrors: ['ftp://x'] }), /invalid registry mirror/);
});

test('basic auth (htpasswd): refused without credentials, works with them, push included', { skip }, async () => {
  const reg = await startRegistry({ auth: 'htpasswd' });
  try {
    await pushBusybox(reg, 'secret/busybox:latest', { auth: true });
    await withRoot(async (_root, ctx) => {
      await assert.rejects(pull(ctx, `${reg.host}/secret/busybox`), (e: BerthError) => e.code === 'HTTP401' && /authentication required/.test(e.message));
    });
    await withRoot(async (_root, ctx) => {
      await assert.rejects(pull(ctx, `${reg.host}/secret/busybox`), (e: BerthError) => e.code === 'HTTP401' && /refused the credentials/.test(e.message));
    }, { username: 'tester', password: 'wrong' });
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, `${reg.host}/secret/busybox`);
      await tag(ctx, r.id, `${reg.host}/copy:1`);
      const [pr] = await push(ctx, `${reg.host}/copy:1`);
      const inspected = await skopeoJSON(['--creds', 'tester:secret-pw', `docker://${reg.host}/copy:1`]);
      assert.equal(inspected.Digest, pr!.digest);
    }, { username: 'tester', password: 'secret-pw' });
  } finally {
    await reg.stop();
  }
});

test('token auth: anonymous pull tokens, credentials for push, tokens reused per scope', { skip }, async () => {
  const reg = await startRegistry({ auth: 'token' });
  try {
    await pushBusybox(reg, 'tok/busybox:latest', { auth: true });
    const before = reg.tokens!.requests.length;
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, `${reg.host}/tok/busybox`);
      const mine = reg.tokens!.requests.slice(before);
      assert.deepEqual(mine.map((m) => [m.scopes, m.account, m.service]), [[['repository:tok/busybox:pull'], undefined, 'berth-test-registry']],
        'one anonymous token served the manifest, config and layer requests');
      await tag(ctx, r.id, `${reg.host}/tok/other:1`);
      await assert.rejects(push(ctx, `${reg.host}/tok/other:1`), (e: BerthError) => /HTTP 401|unauthorized|denied/i.test(e.message));
    });
    await withRoot(async (_root, ctx) => {
      const start = reg.tokens!.requests.length;
      const r = await pull(ctx, `${reg.host}/tok/busybox`);
      await tag(ctx, r.id, `${reg.host}/tok/pushed:1`);
      const [pr] = await push(ctx, `${reg.host}/tok/pushed:1`);
      const reqs = reg.tokens!.requests.slice(start);
      assert.ok(reqs.every((q) => q.account === 'tester'));
      assert.ok(reqs.some((q) => q.scopes.includes('repository:tok/pushed:pull,push')));
      assert.ok(reqs.length <= 4, `tokens are cached per scope (${reqs.length} requests)`);
      const inspected = await skopeoJSON(['--creds', 'tester:secret-pw', `docker://${reg.host}/tok/pushed:1`]);
      assert.equal(inspected.Digest, pr!.digest);
    }, { username: 'tester', password: 'secret-pw' });
    // a wrong password is reported by the token server
    const client = new RegistryClient(reg.host, { credentials: { get: async () => ({ username: 'tester', password: 'nope' }) }, tokens: new TokenCache() });
    await assert.rejects(client.getManifest('tok/busybox', 'latest'), /token request .* failed: HTTP 401 unauthorized: incorrect username or password/);
  } finally {
    await reg.stop();
  }
});

test('credentials from Docker\'s config: auths, credHelpers and credsStore helpers; login storage', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dockercfg-'));
  const oldPath = process.env.PATH;
  try {
    const cfgPath = join(dir, 'config.json');
    const auth = Buffer.from('tester:secret-pw').toString('base64');
    writeFileSync(cfgPath, JSON.stringify({ auths: { 'localhost:5000': { auth }, 'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') } } }));
    const store = new CredentialStore(cfgPath);
    assert.deepEqual(await store.get('localhost:5000'), { username: 'tester', password: 'secret-pw' });
    assert.deepEqual(await store.get('docker.io'), { username: 'hub', password: 'pw' });
    assert.equal(await store.get('other:1'), undefined);
    // a credential helper (docker-credential-berthtest) in PATH
    const bin = join(dir, 'bin');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin);
    const helper = join(bin, 'docker-credential-berthtest');
    writeFileSync(helper, `#!/bin/sh
read server
case "$1" in
  get) if [ "$server" = "helped:1" ]; then echo '{"ServerURL":"helped:1","Username":"hu","Secret":"hs"}'; else echo "credentials not found in native keychain"; exit 1; fi ;;
  store) echo "$server" > "${dir}/stored" ;;
  erase) echo "$server" > "${dir}/erased" ;;
esac
`);
    chmodSync(helper, 0o755);
    process.env.PATH = `${bin}:${oldPath}`;
    writeFileSync(cfgPath, JSON.stringify({ credHelpers: { 'helped:1': 'berthtest' } }));
    assert.deepEqual(await store.get('helped:1'), { username: 'hu', password: 'hs' });
    writeFileSync(cfgPath, JSON.stringify({ credsStore: 'berthtest' }));
    assert.deepEqual(await store.get('helped:1'), { username: 'hu', password: 'hs' });
    assert.equal(await store.get('elsewhere:1'), undefined, '"not found" from the helper means anonymous');
    assert.equal(await store.store('new:1', { username: 'u', password: 'p' }), 'helper');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'stored'), 'utf8')), { ServerURL: 'new:1', Username: 'u', Secret: 'p' });
    assert.equal(await store.erase('new:1'), true);
    // without helpers: base64 in the file, mode 0600
    writeFileSync(cfgPath, '{}');
    assert.equal(await store.store('docker.io', { username: 'a', password: 'b' }), 'file');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    assert.equal(cfg.auths['https://index.docker.io/v1/'].auth, Buffer.from('a:b').toString('base64'));
    assert.equal((await import('node:fs')).statSync(cfgPath).mode & 0o777, 0o600);
    assert.equal(await store.erase('docker.io'), true);
    assert.equal(await store.erase('docker.io'), false);
    writeFileSync(cfgPath, JSON.stringify({ credsStore: 'missinghelper' }));
    await assert.rejects(store.get('x:1'), /docker-credential-missinghelper not found in PATH/);
  } finally {
    process.env.PATH = oldPath;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a registry serving https on localhost is used over https; CAs from certs.d are trusted', { skip }, async () => {
  const reg = await startRegistry({ tls: true });
  const certs = mkdtempSync(join(tmpdir(), 'berth-certs-'));
  try {
    const img = await pushBusybox(reg, 'secure:latest');
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, `${reg.host}/secure`);
      assert.equal(r.id, img.configDigest, 'pulled over https (the server refuses plain http)');
    });
    // TLS verification itself: a client that must verify trusts the certificate only through certs.d
    const { mkdirSync, copyFileSync } = await import('node:fs');
    const strict = (dir: string) => {
      const hosts = new RegistryHosts({ certsDir: dir });
      hosts.endpoints = (domain) => [{ host: domain, domain, prefix: '', schemes: ['https'], skipVerify: false, mirror: false }];
      return new RegistryClient(reg.host, { hosts, credentials: { get: async () => undefined }, retries: 0 });
    };
    await assert.rejects(strict(certs).getManifest('secure', 'latest'), /self[- ]signed certificate/);
    mkdirSync(join(certs, reg.host));
    copyFileSync(reg.caCert!, join(certs, reg.host, 'ca.crt'));
    assert.equal((await strict(certs).getManifest('secure', 'latest')).digest, img.manifestDigest);
    // BERTH_EXTRA_CA_CERTS (where the berth front moves NODE_EXTRA_CA_CERTS) is trusted too
    const registryModule = new URL('../../src/image/registry/index.js', import.meta.url).href;
    const probe = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { RegistryClient, RegistryHosts } from ${JSON.stringify(registryModule)};
      const hosts = new RegistryHosts({ certsDir: '/nonexistent' });
      hosts.endpoints = (domain) => [{ host: domain, domain, prefix: '', schemes: ['https'], skipVerify: false, mirror: false }];
      const c = new RegistryClient(${JSON.stringify(reg.host)}, { hosts, credentials: { get: async () => undefined }, retries: 0 });
      c.getManifest('secure', 'latest').then((m) => console.log(m.digest), (e) => { console.log('ERR ' + e.message); });
    `], { encoding: 'utf8', env });
    const base = { ...process.env };
    delete base.NODE_EXTRA_CA_CERTS;
    delete base.BERTH_EXTRA_CA_CERTS;
    assert.match(probe(base).stdout, /^ERR .*self[- ]signed certificate/);
    assert.equal(probe({ ...base, BERTH_EXTRA_CA_CERTS: reg.caCert! }).stdout.trim(), img.manifestDigest);
  } finally {
    rmSync(certs, { recursive: true, force: true });
    await reg.stop();
  }
});

test('a docker.io mirror serves pulls of Docker Hub names', { skip }, async () => {
  const mirror = await startRegistry();
  try {
    const img = await pushBusybox(mirror, 'library/busybox:latest');
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, 'busybox');
      assert.equal(r.id, img.configDigest);
      assert.equal(r.reference, 'docker.io/library/busybox:latest');
      assert.deepEqual(r.record.repoDigests, [`docker.io/library/busybox@${img.manifestDigest}`]);
    }, undefined, { registries: { mirrors: [`http://${mirror.host}`] } });
  } finally {
    await mirror.stop();
  }
});
