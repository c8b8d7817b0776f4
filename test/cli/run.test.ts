/**
 * `berth run` basics against Docker's behaviour, through the real CLI: output, exit codes,
 * Entrypoint/Cmd, environment, workdir, user, hostname and generated /etc files, `--rm`, `-i`
 * with piped stdin. (Names, -d, --cidfile, labels, --init: run-detach.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from './run-util.js';

const skip = cannotRun();
const HEX64 = /^[0-9a-f]{64}$/;

test('run --rm busybox echo hi: prints hi, exits 0, leaves nothing behind', { skip }, () => withCli(async (c) => {
  const r = await c.berth(['run', '--rm', 'busybox', 'echo', 'hi']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'hi\n');
  assert.equal(r.err, '');
  assert.deepEqual(await c.ids(), [], 'ps -a is empty after --rm');
  const tmp = mkdtempSync(join(tmpdir(), 'berth-cid-'));
  try {
    const cid = join(tmp, 'cid');
    assert.equal((await c.berth(['run', '--rm', '--cidfile', cid, 'busybox', 'sh', '-c', 'echo x > /x'])).code, 0);
    const id = readFileSync(cid, 'utf8');
    assert.match(id, HEX64);
    assert.deepEqual(await c.ids(), []);
    assert.deepEqual(c.leftovers(id), [], 'no mounts, directories or cgroups left');
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}));

test('exit codes: the command\'s status, 127 not found, 126 not executable, 128+n for a signal', { skip }, () => withCli(async (c) => {
  let r = await c.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']);
  assert.equal(r.code, 3, r.err);

  r = await c.berth(['run', '--rm', 'busybox', 'nosuchcmd']);
  assert.equal(r.code, 127);
  assert.match(r.err, /nosuchcmd/);
  assert.match(r.err, /not found|no such file/i);

  r = await c.berth(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(r.code, 126);
  assert.match(r.err, /\/etc\/passwd/);
  assert.match(r.err, /permission denied/i);

  // The container's init is killed by SIGKILL: 128 + 9. (Inside its own PID namespace the init
  // cannot be killed by its own `kill -9 $$` — the kernel drops it, Docker then exits 0 — so the
  // host PID namespace is used for the self-kill.)
  r = await c.berth(['run', '--rm', '--pid', 'host', 'busybox', 'sh', '-c', 'kill -9 $$']);
  assert.equal(r.code, 137, r.err);
  r = await c.berth(['run', '--rm', 'busybox', 'sh', '-c', 'kill -9 $$; echo survived']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'survived\n', 'PID 1 ignores an unhandled SIGKILL from its own namespace');
  assert.deepEqual(await c.ids(), [], 'failed --rm runs leave no container');
}));

test('Entrypoint and Cmd combine as Docker\'s: --entrypoint resets the image Cmd', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'a', 'b']), 'a b');
  assert.equal(await c.ok(['run', '--rm', '--entrypoint', '', 'busybox', 'echo', 'x']), 'x');
  // the image's Cmd ["sh"] is not passed to a new entrypoint
  assert.equal(await c.ok(['run', '--rm', '--entrypoint', '/bin/echo', 'busybox']), '');
  // the image's Cmd runs when no command is given (sh reading an empty stdin exits 0)
  assert.equal((await c.berth(['run', '--rm', 'busybox'])).code, 0);
  const id = await c.ok(['create', '--entrypoint', 'echo', 'busybox', 'a', 'b']);
  assert.match(id, HEX64);
  assert.equal(await c.ok(['inspect', '-f', '{{json .Config.Entrypoint}} {{json .Config.Cmd}}', id]), '["echo"] ["a","b"]');
  await c.ok(['rm', id]);
}));

test('-e, --env-file and -e NAME from the caller\'s environment', { skip }, () => withCli(async (c) => {
  const tmp = mkdtempSync(join(tmpdir(), 'berth-env-'));
  try {
    const f = join(tmp, 'env');
    writeFileSync(f, 'A=1\n# a comment\n\nB=two words\nFROMHOST\n');
    const out = await c.ok(['run', '--rm', '--env-file', f, '-e', 'C=3', '-e', 'A=override', '-e', 'FROMHOST', 'busybox', 'env'],
      { env: { FROMHOST: 'host-value' } });
    const env = new Map(out.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(env.get('A'), 'override', '-e wins over --env-file');
    assert.equal(env.get('B'), 'two words');
    assert.equal(env.get('C'), '3');
    assert.equal(env.get('FROMHOST'), 'host-value');
    assert.equal(env.get('PATH'), '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.match(env.get('HOSTNAME') ?? '', /^[0-9a-f]{12}$/);
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}));

test('HOME is set from the user\'s passwd entry (runc does when the image has none)', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', 'busybox', 'sh', '-c', 'echo "$HOME"']), '/root');
  assert.equal(await c.ok(['run', '--rm', '-u', 'user', 'busybox', 'sh', '-c', 'echo "$HOME"']), '/home/user');
  assert.equal(await c.ok(['run', '--rm', '-e', 'HOME=/x', 'busybox', 'sh', '-c', 'echo "$HOME"']), '/x');
}));

test('-w: the working directory, created when missing', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', '-w', '/tmp', 'busybox', 'pwd']), '/tmp');
  const r = await c.berth(['run', '--rm', '-w', '/new/dir', 'busybox', 'sh', '-c', 'pwd; ls -ld /new/dir | cut -c1']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '/new/dir\nd\n');
}));

test('-u uid:gid', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', 'busybox', 'id', '-u']), '0');
  assert.equal(await c.ok(['run', '--rm', '-u', '1234:50', 'busybox', 'sh', '-c', 'id -u; id -g']), '1234\n50');
  // the user's files are the user's
  assert.equal(await c.ok(['run', '--rm', '-u', '1000:1000', 'busybox', 'sh', '-c', 'touch /tmp/f && stat -c %u:%g /tmp/f']), '1000:1000');
}));

test('-u NAME (and a bare uid) from the image\'s /etc/passwd', {
  skip,
}, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', '-u', 'user', 'busybox', 'sh', '-c', 'id -u; id -g; id -un']), '1000\n1000\nuser');
  assert.equal(await c.ok(['run', '--rm', '-u', 'nobody', 'busybox', 'id', '-u']), '65534');
  assert.equal(await c.ok(['run', '--rm', '-u', '1000', 'busybox', 'sh', '-c', 'id -u; id -g']), '1000\n1000', 'the primary group from passwd');
  assert.equal(await c.ok(['run', '--rm', '-u', 'user:staff', 'busybox', 'sh', '-c', 'id -u; id -g']), '1000\n50');
  const r = await c.berth(['run', '--rm', '-u', 'nosuchuser', 'busybox', 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /unable to find user nosuchuser/);
}));

test('--hostname and the generated /etc/hostname, /etc/hosts, /etc/resolv.conf', { skip }, () => withCli(async (c) => {
  const out = await c.ok(['run', '--rm', '--hostname', 'myhost', 'busybox', 'sh', '-c',
    'hostname; echo ---; cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; grep -E " /etc/(hostname|hosts|resolv.conf) " /proc/mounts | wc -l']);
  const [hn, file, hosts, resolv, mounts] = out.split('\n---\n');
  assert.equal(hn, 'myhost');
  assert.equal(file, 'myhost');
  assert.match(hosts!, /^127\.0\.0\.1\s+localhost$/m);
  assert.match(hosts!, /^::1\s+localhost ip6-localhost ip6-loopback$/m);
  assert.match(resolv!, /^nameserver \S+$/m);
  assert.equal(mounts, '3', 'the three files are mounted into the container');
  // default: the first 12 hex digits of the id
  const id = await c.ok(['create', 'busybox', 'sh', '-c', 'hostname; cat /etc/hostname']);
  const r = await c.berth(['start', '-a', id]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${id.slice(0, 12)}\n${id.slice(0, 12)}\n`);
  await c.ok(['rm', id]);
}));

test('-i: piped stdin reaches the container; without -i it does not', { skip }, () => withCli(async (c) => {
  let r = await c.berth(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'data\n' });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'data\n');
  const big = Buffer.alloc(1 << 20, 'x');
  r = await c.berth(['run', '-i', '--rm', 'busybox', 'wc', '-c'], { input: big });
  assert.equal(r.out.trim(), String(1 << 20), 'a 1 MiB stdin arrives whole');
  r = await c.berth(['run', '--rm', 'busybox', 'cat'], { input: 'not forwarded\n' });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '');
  // stdout and stderr stay apart
  r = await c.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
  assert.equal(r.out, 'out\n');
  assert.equal(r.err, 'err\n');
}));
