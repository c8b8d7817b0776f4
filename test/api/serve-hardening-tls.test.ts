/**
 * `berth serve` listeners: TLS with client certificates as dockerd's (driven by the docker CLI's
 * --tlsverify), the refusal of a public address without TLS, the unix socket's group and mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { busyboxEngine } from '../helpers/engine.js';
import { freePort } from '../helpers/registry.js';
import { BERTH_MAIN } from '../helpers/worker.js';
import { cannotServe, DOCKER, withServer } from './util.js';

const skip = cannotServe() ?? (existsSync('/usr/bin/openssl') ? undefined : 'no openssl');

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as docker's "protect the daemon socket" guide makes them (EC keys: quick). */
function makeCerts(dir: string, name: string): { ca: string; serverCert: string; serverKey: string; cert: string; key: string } {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const f = (x: string) => join(dir, `${name}-${x}`);
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-days', '2', '-subj', `/CN=${name} test CA`);
  const sign = (who: string, cn: string, ext: string) => {
    ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${who}-key.pem`), '-out', f(`${who}.csr`), '-subj', `/CN=${cn}`);
    writeFileSync(f(`${who}.ext`), ext);
    ossl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-out', f(`${who}-cert.pem`), '-days', '2', '-extfile', f(`${who}.ext`));
  };
  sign('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', 'client', 'extendedKeyUsage=clientAuth\n');
  return { ca: f('ca.pem'), serverCert: f('server-cert.pem'), serverKey: f('server-key.pem'), cert: f('client-cert.pem'), key: f('client-key.pem') };
}

/** The docker CLI with its own arguments (no -H added), a clean config dir. */
function docker(args: string[], home: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(DOCKER, args, { env: { PATH: process.env.PATH, HOME: home, DOCKER_CONFIG: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

test('TLS: the docker CLI with --tlsverify and a client certificate works (hijacked run too); no certificate, a stranger\'s, or plain HTTP is refused', { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tls-'));
  try {
    const ours = makeCerts(dir, 'ours');
    const theirs = makeCerts(dir, 'theirs');
    const port = await freePort();
    const host = `tcp://127.0.0.1:${port}`;
    await withServer(async () => {
      const tls = ['--tlsverify', '--tlscacert', ours.ca];
      const v = await docker([...tls, '--tlscert', ours.cert, '--tlskey', ours.key, '-H', host, 'version', '--format', '{{.Server.APIVersion}}'], dir);
      assert.equal(v.code, 0, v.err);
      assert.equal(v.out, '1.47\n');
      const run = await docker([...tls, '--tlscert', ours.cert, '--tlskey', ours.key, '-H', host, 'run', '--rm', 'busybox', 'sh', '-c', 'echo over tls; echo err >&2; exit 4'], dir);
      assert.equal(run.code, 4, run.err);
      assert.equal(run.out, 'over tls\n');
      assert.equal(run.err, 'err\n');

      const noCert = await docker([...tls, '-H', host, 'version', '--format', '{{.Server.APIVersion}}'], dir);
      assert.notEqual(noCert.code, 0);
      assert.match(noCert.err, /certificate|tls/i);
      assert.doesNotMatch(noCert.out, /1\.47/);
      const stranger = await docker([...tls, '--tlscert', theirs.cert, '--tlskey', theirs.key, '-H', host, 'version', '--format', '{{.Server.APIVersion}}'], dir);
      assert.notEqual(stranger.code, 0);
      assert.match(stranger.err, /certificate|tls/i);
      assert.doesNotMatch(stranger.out, /1\.47/);
      // the client checks the server too: a server certificate from an unknown CA is refused
      const wrongCa = await docker(['--tlsverify', '--tlscacert', theirs.ca, '--tlscert', ours.cert, '--tlskey', ours.key, '-H', host, 'version'], dir);
      assert.notEqual(wrongCa.code, 0);
      assert.match(wrongCa.err, /certificate signed by unknown authority|x509/);
      const plain = await docker(['-H', host, 'version', '--format', '{{.Server.APIVersion}}'], dir);
      assert.notEqual(plain.code, 0);
      assert.doesNotMatch(plain.out, /1\.47/);
    }, { serveArgs: ['-H', host, '--tlsverify', '--tlscacert', ours.ca, '--tlscert', ours.serverCert, '--tlskey', ours.serverKey] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** `berth serve ARGS` on the engine's roots until `ready` matches its stderr (or it exits); killed after. */
async function serveUntil(env: NodeJS.ProcessEnv, args: string[], ready: RegExp, wrap: string[] = []): Promise<{ code: number | null; err: string; stop(): Promise<string> }> {
  const argv = [...wrap, process.execPath, BERTH_MAIN, 'serve', ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...env, BERTH_NO_WORKER: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolve) => {
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (ready.test(err)) resolve(); });
    void exited.then(() => resolve());
    setTimeout(resolve, 20_000);
  });
  return {
    code: child.exitCode, err,
    async stop() { if (child.exitCode === null) { child.kill('SIGTERM'); await exited; } return `${err} (exit ${child.exitCode} ${child.signalCode})`; },
  };
}

test('a public TCP address without TLS is refused, allowed with --insecure-tcp (warned); the unix socket\'s group and mode', { skip, timeout: 120_000 }, async () => {
  const e = await busyboxEngine();
  const ns = `berth-t-${randomBytes(4).toString('hex')}`;
  try {
    const refused = spawnSync(process.execPath, [BERTH_MAIN, 'serve', '-H', 'tcp://0.0.0.0:2375'], { env: { ...e.env, BERTH_NO_WORKER: '1' }, encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /refusing to listen on tcp:\/\/0\.0\.0\.0:2375 without TLS/);

    // a public listener only inside a throwaway network namespace (nothing but lo there)
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const sock = join(e.runRoot, 'pub.sock');
    const pub = await serveUntil(e.env, ['-H', 'tcp://0.0.0.0:2375', '--insecure-tcp', '-H', `unix://${sock}`], /API listening/, ['nsenter', `--net=/run/netns/${ns}`, '--']);
    try {
      assert.match(pub.err, /WARNING: API listening on tcp:\/\/0\.0\.0\.0:2375 without TLS/);
      const ping = execFileSync('nsenter', [`--net=/run/netns/${ns}`, '--', 'curl', '-s', 'http://127.0.0.1:2375/_ping'], { encoding: 'utf8' });
      assert.equal(ping, 'OK');
    } finally {
      await pub.stop();
    }

    const docker = /^docker:x:(\d+):/m.exec(execFileSync('getent', ['group'], { encoding: 'utf8' }));
    const dflt = await serveUntil(e.env, ['-H', `unix://${sock}`], /API listening/);
    let end = '';
    try {
      const st = statSync(sock);
      if (docker) { assert.equal(st.mode & 0o777, 0o660); assert.equal(st.gid, Number(docker[1])); } else assert.equal(st.mode & 0o777, 0o600);
      assert.equal(st.uid, 0);
    } finally {
      end = await dflt.stop();
    }
    assert.equal(existsSync(sock), false, `the socket is removed when the server stops: ${end}`);
    const numeric = await serveUntil(e.env, ['-H', `unix://${sock}`, '--group', '4242'], /API listening/);
    try {
      const st = statSync(sock);
      assert.equal(st.mode & 0o777, 0o660);
      assert.equal(st.gid, 4242);
    } finally {
      await numeric.stop();
    }
    const missing = await serveUntil(e.env, ['-H', `unix://${sock}`, '--group', 'no-such-group-here'], /API listening/);
    await missing.stop();
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /group no-such-group-here not found/);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    await e.cleanup();
  }
});
