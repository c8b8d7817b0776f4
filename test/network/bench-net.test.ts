/**
 * `berth bench net` end to end in a throwaway "host" namespace (withNetCli: the real CLI under
 * nsenter): the JSON's shape, positive throughput, and nothing left behind — no container, no
 * network, no link and no namespace beyond what the fixture made.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cannotRunNet, withNetCli } from './engine-util.js';
import { FRONT } from '../helpers/worker.js';

const skip = cannotRunNet();

const links = (c: { sh(cmd: string[]): string }) => c.sh(['ip', '-o', 'link', 'show']).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]!).sort();
const netnsList = () => (readFileSync('/proc/mounts', 'utf8').match(/\/run\/netns\/berth-bench-\S+/g) ?? []).sort();

test('bench net: bridge, host and published-lo measured in a throwaway namespace; nothing left', { skip, timeout: 240_000 }, async () => {
  await withNetCli(async (c) => {
    // the default bridge is the user's (as docker0): make it first, so it counts as the fixture's
    await c.ok(['run', '--rm', 'busybox', 'true']);
    const linksBefore = links(c);
    const netsBefore = await c.ok(['network', 'ls', '-q']);
    const nsBefore = netnsList();
    const json = join(c.runRoot, 'bench.json');
    const svg = join(c.runRoot, 'bench.svg');
    const r = await c.berth(['bench', 'net', '--duration', '0.3', '--schemes', 'bridge,host,published-lo', '--json', json, '--svg', svg], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, `exit ${r.code}\n${r.out}\n${r.err}`);
    const res = JSON.parse(readFileSync(json, 'utf8')) as {
      version: number; durationS: number; baselineSetupMs: number;
      schemes: { scheme: string; fits: string; gbit1: number; gbit4: number; rr: { p50Us: number; p99Us: number; samples: number }; ping: { p50Us: number } | null; setupMs: number; error?: string }[];
    };
    assert.equal(res.version, 1);
    assert.equal(res.durationS, 0.3);
    assert.ok(res.baselineSetupMs > 0);
    assert.deepEqual(res.schemes.map((s) => s.scheme), ['bridge', 'host', 'published-lo']);
    for (const s of res.schemes) {
      assert.equal(s.error, undefined, `${s.scheme}: ${s.error}`);
      assert.ok(s.gbit1 > 0 && s.gbit4 > 0, `${s.scheme}: throughput ${s.gbit1} / ${s.gbit4}`);
      assert.ok(s.rr.samples > 0 && s.rr.p50Us > 0 && s.rr.p99Us >= s.rr.p50Us, `${s.scheme}: rr ${JSON.stringify(s.rr)}`);
      assert.equal(typeof s.setupMs, 'number');
      assert.ok(s.fits.length > 10);
      assert.match(r.out, new RegExp(`^${s.scheme} +\\d`, 'm'));
    }
    assert.ok(res.schemes.find((s) => s.scheme === 'bridge')!.ping!.p50Us > 0);
    assert.equal(res.schemes.find((s) => s.scheme === 'published-lo')!.ping, null);
    assert.match(readFileSync(svg, 'utf8'), /^<svg[^>]*>[\s\S]*published-lo[\s\S]*<\/svg>\n$/);
    assert.match(r.out, /^ {2}fits: /m);
    // nothing left
    assert.equal(await c.ok(['ps', '-aq']), '');
    assert.equal(await c.ok(['network', 'ls', '-q']), netsBefore);
    assert.deepEqual(links(c), linksBefore);
    assert.deepEqual(netnsList(), nsBefore);
  });
});

test('bench net: macvlan, container:X and two containers; its parent and namespace removed', { skip, timeout: 240_000 }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['run', '--rm', 'busybox', 'true']);
    const linksBefore = links(c);
    const nsBefore = netnsList();
    const r = await c.berth(['bench', 'net', '--duration', '0.2', '--schemes', 'macvlan,container,bridge-c2c,published-host'], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, `exit ${r.code}\n${r.out}\n${r.err}`);
    for (const s of ['macvlan', 'container', 'bridge-c2c', 'published-host']) assert.match(r.out, new RegExp(`^${s} +\\d+\\.\\d+ +\\d`, 'm'));
    assert.equal(await c.ok(['ps', '-aq']), '');
    assert.deepEqual(links(c), linksBefore);
    assert.deepEqual(netnsList(), nsBefore);
  });
});

test('bench net: an unknown scheme is a usage error and makes nothing', { skip }, async () => {
  await withNetCli(async (c) => {
    const r = await c.berth(['bench', 'net', '--schemes', 'bridge,warp']);
    assert.equal(r.code, 1);
    assert.match(r.err, /unknown scheme "warp"/);
    assert.equal(await c.ok(['ps', '-aq']), '');
  });
});

test('bench net: Ctrl-C in the middle removes what it made', { skip, timeout: 240_000 }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['run', '--rm', 'busybox', 'true']);
    const linksBefore = links(c);
    const nsBefore = netnsList();
    const env = { ...c.env, BERTH_BRIDGE: 'berth0', BERTH_RESOLV_CONF: c.resolvConf, BERTH_NO_WORKER: '1' };
    const child = spawn('nsenter', [`--net=${c.ns}`, '--', FRONT, 'bench', 'net', '--duration', '2', '--schemes', 'macvlan,bridge'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // interrupt once the macvlan's parent namespace and its server container exist
    const end = Date.now() + 60_000;
    while (netnsList().length === nsBefore.length || (await c.ok(['ps', '-q'])) === '') {
      assert.ok(Date.now() < end, `the bench made no namespace or container in 60 s: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    const code = await closed;
    assert.notEqual(code, 0, err);
    assert.match(err, /interrupted/);
    assert.equal(await c.ok(['ps', '-aq']), '');
    assert.equal((await c.ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n').filter((n) => n.startsWith('berth-bench')).join(), '');
    assert.deepEqual(links(c), linksBefore);
    assert.deepEqual(netnsList(), nsBefore);
  });
});
