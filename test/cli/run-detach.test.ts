/**
 * `berth run` with names, `-d`, `--cidfile`, labels and `--init`, through the real CLI, against
 * Docker's behaviour.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, messageLines, mountsUnder, withCli } from './run-util.js';

const skip = cannotRun();

test('--name: the name in ps; a second container of that name is refused, nothing left behind', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--name', 'web', 'busybox', 'sleep', '60']);
  assert.equal(await c.ok(['ps', '--format', '{{.Names}}']), 'web');
  const before = await c.ids();
  const mounts = [...mountsUnder(c.root), ...mountsUnder(c.runRoot)].sort();
  const r = await c.berth(['run', '--name', 'web', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.equal(r.out, '');
  const msg = messageLines(r.err);
  assert.equal(msg.length, 1, r.err);
  assert.match(msg[0]!, /Conflict\. The container name "\/web" is already in use by container "[0-9a-f]{64}"/);
  assert.deepEqual(await c.ids(), before, 'ps -a unchanged');
  assert.deepEqual([...mountsUnder(c.root), ...mountsUnder(c.runRoot)].sort(), mounts, 'no mount made');
  await c.ok(['rm', '-f', id]);
}));

test('-d prints the id; ps shows it Up; logs shows its output; stop ends it; inspect has the exit code', { skip }, () => withCli(async (c) => {
  const r = await c.berth(['run', '-d', 'busybox', 'sh', '-c', 'echo started; echo to-stderr >&2; exec sleep 60']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^[0-9a-f]{64}\n$/);
  const id = r.out.trim();
  const ps = await c.ok(['ps', '--no-trunc', '--format', '{{.ID}} {{.Status}}']);
  assert.match(ps, new RegExp(`^${id} Up `));
  await waitLogs(c, id, 'started\n');
  const logs = await c.berth(['logs', id]);
  assert.equal(logs.out, 'started\n');
  assert.equal(logs.err, 'to-stderr\n');
  assert.equal(await c.ok(['stop', '-t', '1', id]), id);
  // sleep as PID 1 has no SIGTERM handler: the kernel drops the signal, stop kills it after 1 s
  assert.equal(await c.ok(['inspect', '-f', '{{.State.ExitCode}} {{.State.Status}} {{.State.Running}}', id]), '137 exited false');
  assert.equal(await c.ok(['ps', '-q']), '', 'not running any more');
  await c.ok(['rm', id]);
  assert.deepEqual(c.leftovers(id), []);
}));

async function waitLogs(c: { berth: (a: string[]) => Promise<{ out: string }> }, id: string, want: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await c.berth(['logs', id])).out.includes(want)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`logs of ${id} never showed ${JSON.stringify(want)}`);
}

test('--cidfile: the id is written; an existing file is refused (125) and nothing is created', { skip }, () => withCli(async (c) => {
  const tmp = mkdtempSync(join(tmpdir(), 'berth-cid-'));
  try {
    const cid = join(tmp, 'cid');
    const id = await c.ok(['run', '-d', '--cidfile', cid, 'busybox', 'true']);
    assert.equal(readFileSync(cid, 'utf8'), id);
    const r = await c.berth(['run', '--rm', '--cidfile', cid, 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.err, /Container ID file found/);
    assert.match(r.err, new RegExp(cid));
    assert.deepEqual(await c.ids(), [id]);
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}));

test('-l labels: in inspect', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['create', '-l', 'app=web', '--label', 'tier=front', '-l', 'empty', 'busybox', 'true']);
  assert.deepEqual(JSON.parse(await c.ok(['inspect', '-f', '{{json .Config.Labels}}', id])), { app: 'web', empty: '', tier: 'front' });
}));

test('-l labels: ps --filter label= and the Labels column', { skip }, () => withCli(async (c) => {
  const a = await c.ok(['create', '--name', 'ca', '-l', 'app=web', '-l', 'tier=front', 'busybox', 'true']);
  await c.ok(['create', '--name', 'cb', '-l', 'app=db', 'busybox', 'true']);
  await c.ok(['create', '--name', 'cn', 'busybox', 'true']);
  assert.equal(await c.ok(['ps', '-a', '--filter', 'label=app=web', '--format', '{{.Names}}']), 'ca');
  assert.equal(await c.ok(['ps', '-a', '--filter', 'label=app', '--format', '{{.Names}}']).then((s) => s.split('\n').sort().join(' ')), 'ca cb');
  assert.equal(await c.ok(['ps', '-a', '--filter', `id=${a}`, '--format', '{{.Labels}}']), 'app=web,tier=front');
}));

test('--init: the init (found on the host, or init-path in the config) is PID 1 and forwards/reaps', { skip }, async (t) => {
  const init = ['/usr/bin/tini-static', '/usr/bin/docker-init'].find((p) => existsSync(p) && isStatic(p));
  if (!init) return t.skip('no static init binary (tini-static) on this machine');
  await withCli(async (c) => {
    const tmp = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
    try {
      const cfg = join(tmp, 'config.json');
      writeFileSync(cfg, JSON.stringify({ 'init-path': init }));
      for (const env of [{}, { BERTH_CONFIG: cfg }]) {
        const cmdline = await c.ok(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "'], { env });
        assert.match(cmdline, /^\/sbin\/docker-init -- sh -c /);
        // the shell is not PID 1 now: its own SIGKILL kills it, the init exits 128+9
        const r = await c.berth(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'kill -9 $$'], { env });
        assert.equal(r.code, 137, r.err);
      }
      // without --init the command is PID 1
      assert.equal(await c.ok(['run', '--rm', 'busybox', 'sh', '-c', 'echo $$']), '1');
      assert.deepEqual(await c.ids(), []);
    } finally { rmSync(tmp, { recursive: true, force: true }); }
  });
});

function isStatic(p: string): boolean {
  const b = readFileSync(p);
  if (b.subarray(0, 4).toString('latin1') !== '\x7fELF' || b[4] !== 2) return false; // ELF64 only
  const phoff = Number(b.readBigUInt64LE(0x20));
  const size = b.readUInt16LE(0x36);
  const n = b.readUInt16LE(0x38);
  for (let i = 0; i < n; i++) if (b.readUInt32LE(phoff + i * size) === 3) return false; // PT_INTERP: dynamic
  return true;
}

