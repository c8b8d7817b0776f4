/**
 * `berth build -o type=local|tar|image`, `--add-host` and `--network` for the RUNs (the test
 * engine has no default bridge: `default` is the host's network there; nothing is sent anywhere).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from '../cli/run-util.js';
import { untar } from './util.js';

const why = cannotRun();

test('berth build: outputs and RUN networking', { skip: why || false, timeout: 120_000 }, async (t) => {
  await withCli(async (c) => {
    const tmp = mkdtempSync(join(tmpdir(), 'berth-bout-'));
    try {
      const df = 'FROM busybox:latest AS b\nRUN mkdir /d && echo built > /d/out && chmod 640 /d/out && ln -s out /d/lnk\nFROM scratch\nCOPY --chown=3:4 --from=b /d /\n';
      await t.test('-o type=local, type=tar (file and -), type=image', async () => {
        const imagesBefore = await c.ok(['images', '-q', '--no-trunc']);
        const dir = join(tmp, 'local');
        const r = await c.berth(['build', '-q', '-o', `type=local,dest=${dir}`, '-'], { input: df });
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, '', 'no image id: no image');
        assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'built\n');
        const st = lstatSync(join(dir, 'out'));
        assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o640, 3, 4]);
        assert.equal(readlinkSync(join(dir, 'lnk')), 'out');
        const file = join(tmp, 'fs.tar');
        await c.ok(['build', '-q', '-o', `type=tar,dest=${file}`, '-'], { input: df });
        const entries = await untar(readFileSync(file));
        assert.deepEqual([...entries.keys()].sort(), ['lnk', 'out']);
        assert.equal(entries.get('out')!.data.toString(), 'built\n');
        const out = await c.berth(['build', '-q', '-o', '-', '-'], { input: df });
        assert.equal(out.code, 0, out.err);
        const fromStdout = await untar(Buffer.from(out.out, 'latin1'));
        assert.equal(fromStdout.get('out')?.data.toString(), 'built\n');
        assert.equal(await c.ok(['images', '-q', '--no-trunc']), imagesBefore, 'local and tar outputs make no image');
        const id = await c.ok(['build', '-q', '-o', 'type=image', '-t', 'out:1', '-'], { input: df });
        assert.match(id, /^sha256:/);
        const bad = await c.berth(['build', '-o', 'type=registry', '-'], { input: df });
        assert.notEqual(bad.code, 0);
        assert.match(bad.err, /output type registry is not supported/);
      });

      await t.test('--add-host and --network none|default, RUN --network', async () => {
        const netdf = 'FROM busybox:latest\nRUN grep -c lo: /proc/net/dev > /lo && wc -l < /proc/net/dev > /n && (grep myhost /etc/hosts || true) > /h\n'
          + 'RUN --network=none wc -l < /proc/net/dev > /n2\n';
        await c.ok(['build', '-q', '--no-cache', '--network', 'none', '--add-host', 'myhost:10.1.2.3', '-t', 'net:1', '-'], { input: netdf });
        assert.equal(await c.ok(['run', '--rm', 'net:1', 'sh', '-c', 'cat /n /n2; tr -s " \\t" " " < /h']), '3\n3\n10.1.2.3 myhost');
        const r = await c.berth(['build', '-q', '--no-cache', '-t', 'net:2', '-'], { input: netdf });
        assert.equal(r.code, 0, r.err);
        const host = Number(await c.ok(['run', '--rm', 'net:2', 'cat', '/n']));
        assert.ok(host > 3, `default without a bridge: the host's interfaces (${host - 2} lines)`);
        assert.equal(await c.ok(['run', '--rm', 'net:2', 'cat', '/n2']), '3', 'RUN --network=none wins');
        const bad = await c.berth(['build', '--network', 'bridge2', '-'], { input: netdf });
        assert.notEqual(bad.code, 0);
        assert.match(bad.err, /invalid network mode bridge2/);
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
