/** What `docker create`/`run` sends beyond the basics reaches the engine: anonymous volumes (Config.Volumes), DNS search/options, ulimits, --mount options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cannotServe, withServer } from './util.js';

const skip = cannotServe();

test('docker run -v /anon, --dns-search, --dns-option, --ulimit, --mount tmpfs through berth serve', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const created = await s.docker(['create', '--name', 'cfg', '-v', '/anon', '--dns-search', 'example.test', '--dns-option', 'ndots:3',
      '--ulimit', 'nofile=256:512', '--mount', 'type=tmpfs,dst=/scratch,tmpfs-size=1048576', 'busybox',
      'sh', '-c', 'grep -E " /anon | /scratch " /proc/mounts | cut -d" " -f2,3; grep -E "^(search|options)" /etc/resolv.conf; ulimit -n']);
    assert.equal(created.code, 0, created.err);
    const insp = JSON.parse((await s.docker(['inspect', 'cfg'])).out)[0];
    const anon = insp.Mounts.find((m: { Destination: string }) => m.Destination === '/anon');
    assert.ok(anon, `no /anon mount in ${JSON.stringify(insp.Mounts)}`);
    assert.equal(anon.Type, 'volume');
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    assert.deepEqual(insp.HostConfig.DnsSearch, ['example.test']);
    const r = await s.docker(['start', '-a', 'cfg']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.ok(lines.includes('/anon ext4') || lines.some((l) => l.startsWith('/anon ')), r.out);
    assert.ok(lines.includes('/scratch tmpfs'), r.out);
    assert.ok(lines.includes('search example.test'), r.out);
    assert.ok(lines.some((l) => l.startsWith('options') && l.includes('ndots:3')), r.out);
    assert.equal(lines.at(-1), '256');
    const rm = await s.docker(['rm', '-v', 'cfg']);
    assert.equal(rm.code, 0, rm.err);
    const vols = await s.docker(['volume', 'ls', '-q']);
    assert.ok(!vols.out.includes(anon.Name), `the anonymous volume outlived rm -v: ${vols.out}`);
  });
});
