/** `berth serve`: the real docker CLI drives berth over the Docker Engine API. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { cannotServe, withServer } from './util.js';

const skip = cannotServe();

test('docker version, ping headers, run --rm, ps, inspect, logs, rm, images', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const mode = statSync(s.socket).mode & 0o777;
    assert.ok(mode === 0o600 || mode === 0o660, `socket mode ${mode.toString(8)}`);

    const ping = await s.http('HEAD', '/_ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.headers['api-version'], '1.47');
    assert.equal(ping.headers.ostype, 'linux');
    assert.equal(ping.headers['builder-version'], '1');

    const v = await s.docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
    assert.equal(v.code, 0, v.err);
    assert.equal(v.out.trim(), '1.47 linux');

    const run = await s.docker(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(run.err, '');
    assert.equal(run.code, 0);
    assert.equal(run.out, 'hi\n');

    const failing = await s.docker(['run', '--name', 'exit3', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(failing.code, 3, failing.err);
    assert.equal(failing.out, 'out\n');
    assert.equal(failing.err, 'err\n');

    const d = await s.docker(['run', '-d', '--name', 'sleeper', '-l', 'k=v', 'busybox', 'sleep', '60']);
    assert.equal(d.code, 0, d.err);
    const id = d.out.trim();
    assert.match(id, /^[0-9a-f]{64}$/);

    const ps = await s.docker(['ps', '--format', '{{.Names}} {{.Status}} {{.Label "k"}}']);
    assert.equal(ps.code, 0, ps.err);
    assert.match(ps.out, /^sleeper Up .* v\n$/);
    const psa = await s.docker(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    assert.match(psa.out, /exit3 Exited \(3\)/);

    const ins = await s.docker(['inspect', '--format', '{{.Name}} {{.State.Status}} {{.Config.Cmd}}', 'sleeper']);
    assert.equal(ins.code, 0, ins.err);
    assert.equal(ins.out.trim(), '/sleeper running [sleep 60]');

    const logs = await s.docker(['logs', 'exit3']);
    assert.equal(logs.code, 0, logs.err);
    assert.equal(logs.out, 'out\n');
    assert.equal(logs.err, 'err\n');

    const rmRunning = await s.docker(['rm', 'sleeper']);
    assert.equal(rmRunning.code, 1);
    assert.match(rmRunning.err, /container is running: stop the container before removing or force remove/);
    const stop = await s.docker(['stop', '-t', '1', 'sleeper']);
    assert.equal(stop.code, 0, stop.err);
    const rm = await s.docker(['rm', 'sleeper', 'exit3']);
    assert.equal(rm.code, 0, rm.err);
    assert.equal((await s.docker(['ps', '-aq'])).out, '');

    const images = await s.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.equal(images.code, 0, images.err);
    assert.equal(images.out, 'busybox:latest\n');
    const tag = await s.docker(['tag', 'busybox', 'mine:1']);
    assert.equal(tag.code, 0, tag.err);
    const rmi = await s.docker(['rmi', 'mine:1']);
    assert.equal(rmi.code, 0, rmi.err);
    assert.equal(rmi.out, 'Untagged: mine:1\n');
  });
});

test('moby error shapes and version rules over plain HTTP', { skip, timeout: 60_000 }, async () => {
  await withServer(async (s) => {
    const missing = await s.http('GET', '/v1.47/containers/nosuch/json');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(missing.body), { message: 'No such container: nosuch' });

    const tooNew = await s.http('GET', '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.deepEqual(JSON.parse(tooNew.body), { message: 'client version 1.99 is too new. Maximum supported API version is 1.47' });
    const tooOld = await s.http('GET', '/v1.12/version');
    assert.equal(tooOld.status, 400);
    assert.match(JSON.parse(tooOld.body).message, /^client version 1.12 is too old\. Minimum supported API version is 1\.24/);
    assert.equal((await s.http('GET', '/v1.24/version')).status, 200);
    const ver = JSON.parse((await s.http('GET', '/version')).body);
    assert.equal(ver.ApiVersion, '1.47');

    const nope = await s.http('GET', '/v1.47/nothing/here');
    assert.equal(nope.status, 404);
    assert.deepEqual(JSON.parse(nope.body), { message: 'page not found' });

    const noImage = await s.http('POST', '/containers/create', { Image: 'nosuchimage' });
    assert.equal(noImage.status, 404);
    assert.match(JSON.parse(noImage.body).message, /No such image: nosuchimage/);

    const c1 = await s.http('POST', '/containers/create?name=dup', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(c1.status, 201, c1.body);
    const dup = await s.http('POST', '/containers/create?name=dup', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(dup.status, 409);
    assert.match(JSON.parse(dup.body).message, /Conflict\. The container name "\/dup" is already in use/);

    const badLogs = await s.http('GET', '/containers/dup/logs');
    assert.equal(badLogs.status, 400);
    assert.deepEqual(JSON.parse(badLogs.body), { message: 'Bad parameters: you must choose at least one stream' });
  });
});
