/** `berth serve`: GET /events — replay with since/until, live events (also of the berth CLI on the same store), moby's message shape. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { FRONT } from '../helpers/worker.js';
import { cannotServe, DOCKER, withServer } from './util.js';

const skip = cannotServe();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('docker events --since/--until and live, through berth serve', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const t0 = Math.floor(Date.now() / 1000);
    for (const args of [['volume', 'create', 'ev1'], ['volume', 'rm', 'ev1']]) assert.equal((await s.docker(args)).code, 0);
    const t1 = Math.floor(Date.now() / 1000) + 1;

    // replay of a window in the past: the stream ends by itself
    const past = await s.docker(['events', '--since', String(t0), '--until', String(t1), '--filter', 'type=volume', '--format', '{{json .}}'], { timeoutMs: 10_000 });
    assert.equal(past.code, 0, past.err);
    const msgs = past.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(msgs.map((m) => [m.Type, m.Action, m.Actor.ID, m.scope]), [['volume', 'create', 'ev1', 'local'], ['volume', 'destroy', 'ev1', 'local']]);
    assert.equal(msgs[0].Actor.Attributes.driver, 'local');
    assert.ok(msgs[0].time >= t0 && msgs[0].time <= t1);
    assert.equal(BigInt(msgs[0].timeNano) / 1_000_000_000n, BigInt(msgs[0].time));

    // live: a `docker run` and a volume made by the berth CLI on the same store
    const live = spawn(DOCKER, ['-H', `unix://${s.socket}`, 'events', '--format', '{{.Type}} {{.Action}} {{if eq .Type "container"}}{{.Actor.Attributes.name}}{{else}}{{.Actor.ID}}{{end}}'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    live.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    try {
      await sleep(500);
      const run = await s.docker(['run', '--rm', '--name', 'live1', '-l', 'team=blue', 'busybox', 'true']);
      assert.equal(run.code, 0, run.err);
      const cli = spawn(FRONT, ['volume', 'create', 'fromcli'], { env: { ...s.env, BERTH_NO_WORKER: '1' }, stdio: 'ignore' });
      await new Promise((r) => cli.on('close', r));
      for (let i = 0; i < 50 && !/volume create fromcli/.test(out); i++) await sleep(100);
      const lines = out.trim().split('\n');
      for (const want of ['container create live1', 'container start live1', 'container die live1', 'container destroy live1', 'volume create fromcli']) {
        assert.ok(lines.includes(want), `${want} in\n${out}`);
      }
      assert.ok(lines.indexOf('container create live1') < lines.indexOf('container die live1'));
    } finally {
      live.kill();
    }

    // the raw stream: legacy fields on container events, labels among the attributes, filters
    const now = Math.floor(Date.now() / 1000) + 1;
    const raw = await s.http('GET', `/events?since=${t0}&until=${now}&filters=${encodeURIComponent('{"type":["container"],"event":["die"]}')}`);
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-type'], 'application/json');
    const die = raw.body.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(die.length, 1);
    assert.equal(die[0].status, 'die');
    assert.equal(die[0].id, die[0].Actor.ID);
    assert.equal(die[0].from, 'busybox');
    assert.equal(die[0].Actor.Attributes.exitCode, '0');
    assert.equal(die[0].Actor.Attributes.team, 'blue');
    const byLabel = await s.http('GET', `/events?since=${t0}&until=${now}&filters=${encodeURIComponent('{"label":{"team=blue":true},"event":{"start":true}}')}`);
    assert.equal(byLabel.body.trim().split('\n').length, 1);

    assert.equal((await s.http('GET', `/events?since=${now}&until=${t0}`)).status, 400);
    assert.equal((await s.http('GET', `/events?filters=${encodeURIComponent('{"bogus":["x"]}')}`)).status, 400);
    assert.equal((await s.http('GET', '/events?since=yesterday')).status, 400);
  });
});
