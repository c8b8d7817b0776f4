import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveRegistry, pushBusybox, startRegistry } from '../helpers/registry.js';

const skip = haveRegistry() ? false : 'docker-registry is not installed';
const RUNNER = join(dirname(fileURLToPath(import.meta.url)), 'clirun.js');

interface Result { code: number; out: string; err: string }

function cli(env: Record<string, string>, mod: string, args: string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, mod, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.on('error', () => undefined); // the client may exit without reading its stdin
    child.stdin.end(input ?? '');
  });
}

test('the image commands print Docker\'s formats', { skip }, async () => {
  const reg = await startRegistry();
  const root = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  const env = { BERTH_ROOT: root, DOCKER_CONFIG: join(root, 'docker-config') };
  try {
    const img = await pushBusybox(reg, 'busybox:latest');
    const sid = img.layers[0]!.digest.slice(7, 19);
    const name = `${reg.host}/busybox`;
    let r = await cli(env, 'pull', [name]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, [
      'Using default tag: latest',
      'latest: Pulling from busybox',
      `${sid}: Pulling fs layer`,
      `${sid}: Verifying Checksum`,
      `${sid}: Download complete`,
      `${sid}: Pull complete`,
      `Digest: ${img.manifestDigest}`,
      `Status: Downloaded newer image for ${name}:latest`,
      `${name}:latest`, ''].join('\n'));
    r = await cli(env, 'pull', ['-q', name]);
    assert.equal(r.out, `${name}:latest\n`);
    r = await cli(env, 'images', []);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(lines[1]!, new RegExp(`^${name.replace(/\./g, '\\.')}\\s+latest\\s+${img.configDigest.slice(7, 19)}\\s+\\d+ (months|years) ago\\s+\\d+(\\.\\d+)?MB$`));
    r = await cli(env, 'images', ['-q']);
    assert.equal(r.out, `${img.configDigest.slice(7, 19)}\n`);
    r = await cli(env, 'images', ['--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}']);
    assert.equal(r.out, `${name}:latest ${img.manifestDigest}\n`);
    r = await cli(env, 'images', ['--format', 'json']);
    assert.equal(JSON.parse(r.out).ID, img.configDigest.slice(7, 19));
    r = await cli(env, 'images', ['--foo']);
    assert.equal(r.code, 125);
    assert.equal(r.err, "unknown flag: --foo\nSee 'berth images --help'.\n");
    r = await cli(env, 'tag', [name, 'cli/test:1']);
    assert.equal(r.code, 0, r.err);
    r = await cli(env, 'image', ['inspect', 'cli/test:1']);
    const info = JSON.parse(r.out);
    assert.equal(info.length, 1);
    assert.equal(info[0].Id, img.configDigest);
    assert.ok(r.out.startsWith('[\n    {\n        "Id"'), 'indented like docker');
    r = await cli(env, 'image', ['inspect', '--format', '{{.Id}} {{.Os}}', 'cli/test:1']);
    assert.equal(r.out, `${img.configDigest} linux\n`);
    r = await cli(env, 'history', ['cli/test:1']);
    assert.match(r.out.split('\n')[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(r.out.split('\n')[1]!, new RegExp(`^${img.configDigest.slice(7, 19)}\\s+\\d+ \\w+ ago\\s+/bin/sh -c #\\(nop\\) layer 0\\s+\\d`));
    // save and load
    const file = join(root, 'saved.tar');
    r = await cli(env, 'save', ['-o', file, 'cli/test:1']);
    assert.equal(r.code, 0, r.err);
    r = await cli(env, 'save', ['--format', 'zip', '-o', file, 'cli/test:1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /invalid --format "zip"/);
    r = await cli(env, 'pull', ['Busybox']);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'invalid reference format: "Busybox": repository name (library/Busybox) must be lowercase\n');
    r = await cli(env, 'rmi', ['cli/test:1']);
    assert.equal(r.out, 'Untagged: cli/test:1\n');
    r = await cli(env, 'load', ['-i', file]);
    assert.equal(r.out, 'Loaded image: cli/test:1\n');
    r = await cli(env, 'rmi', ['nope:1', 'cli/test:1']);
    assert.equal(r.code, 1);
    assert.equal(r.err, 'Error response from daemon: No such image: nope:1\n');
    assert.equal(r.out, 'Untagged: cli/test:1\n');
    r = await cli(env, 'image', ['rm', name]);
    assert.equal(r.out, `Untagged: ${name}:latest\nUntagged: ${name}@${img.manifestDigest}\nDeleted: ${img.configDigest}\n`);
    r = await cli(env, 'image', ['prune', '-f']);
    assert.equal(r.out, 'Total reclaimed space: 0B\n');
    r = await cli(env, 'image', ['prune'], 'n\n');
    assert.equal(r.out, 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ');
    r = await cli(env, 'pull', [`${reg.host}/nothing`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error response from daemon: pull 127\.0\.0\.1:\d+\/nothing:latest: manifest latest: not found/);
    r = await cli(env, 'pull', []);
    assert.equal(r.code, 1);
    assert.match(r.err, /"berth pull" requires exactly 1 argument\./);
    r = await cli(env, 'pull', ['--help']);
    assert.match(r.out, /Usage:  berth pull \[OPTIONS\] NAME\[:TAG\|@DIGEST\]/);
  } finally {
    rmSync(root, { recursive: true, force: true });
    await reg.stop();
  }
});

test('login, push and logout against a registry with basic auth', { skip }, async () => {
  const reg = await startRegistry({ auth: 'htpasswd' });
  const root = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  const cfgDir = join(root, 'docker-config');
  const env = { BERTH_ROOT: root, DOCKER_CONFIG: cfgDir };
  try {
    const img = await pushBusybox(reg, 'busybox:latest', { auth: true });
    let r = await cli(env, 'pull', ['-q', `${reg.host}/busybox`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /unauthorized: authentication required/);
    r = await cli(env, 'login', ['-u', 'tester', '--password-stdin', reg.host], 'wrong\n');
    assert.equal(r.code, 1);
    assert.ok(!existsSync(join(cfgDir, 'config.json')));
    r = await cli(env, 'login', ['-u', 'tester', '--password-stdin', reg.host], 'secret-pw\n');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'Login Succeeded\n');
    const cfg = JSON.parse(readFileSync(join(cfgDir, 'config.json'), 'utf8'));
    assert.equal(cfg.auths[reg.host].auth, Buffer.from('tester:secret-pw').toString('base64'));
    r = await cli(env, 'login', [reg.host]);
    assert.equal(r.out, 'Authenticating with existing credentials...\nLogin Succeeded\n');
    r = await cli(env, 'pull', ['-q', `${reg.host}/busybox`]);
    assert.equal(r.code, 0, r.err);
    r = await cli(env, 'tag', [`${reg.host}/busybox`, `${reg.host}/pushed:v2`]);
    r = await cli(env, 'push', [`${reg.host}/pushed:v2`]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.split('\n')[0], `The push refers to repository [${reg.host}/pushed]`);
    assert.ok(r.out.includes(`v2: digest: ${img.manifestDigest} size: ${img.manifest.length}`), r.out);
    r = await cli(env, 'logout', [reg.host]);
    assert.equal(r.out, `Removing login credentials for ${reg.host}\n`);
    r = await cli(env, 'logout', [reg.host]);
    assert.equal(r.out, `Not logged in to ${reg.host}\n`);
    r = await cli(env, 'login', [reg.host]);
    assert.equal(r.code, 1);
    assert.match(r.err, /Cannot perform an interactive login from a non TTY device/);
  } finally {
    rmSync(root, { recursive: true, force: true });
    await reg.stop();
  }
});

test('import prints the new image id; images lists it', async () => {
  const { execFileSync } = await import('node:child_process');
  const { busyboxRootfs } = await import('../helpers/rootfs.js');
  const root = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  try {
    const rootfs = join(root, 'rootfs');
    busyboxRootfs((await import('node:fs')).mkdirSync(rootfs, { recursive: true }) ?? rootfs);
    execFileSync('tar', ['-C', rootfs, '-cf', join(root, 'rootfs.tar'), '.']);
    const env = { BERTH_ROOT: join(root, 'data') };
    let r = await cli(env, 'import', ['-c', 'CMD ["sh"]', join(root, 'rootfs.tar'), 'imported:1']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^sha256:[a-f0-9]{64}\n$/);
    const id = r.out.trim();
    r = await cli(env, 'images', ['--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.equal(r.out, `imported:1 ${id.slice(7, 19)}\n`, `stderr: ${r.err}`);
    r = await cli(env, 'image', ['import', join(root, 'missing.tar')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no such file or directory|ENOENT/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
