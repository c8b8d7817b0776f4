/** `berth serve`: volumes, system df, the swarm stubs and build prune, driven by the docker CLI and plain HTTP. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cannotServe, withServer } from './util.js';

const skip = cannotServe();

test('docker volume create/ls/inspect/rm/prune through berth serve', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const ok = async (args: string[]) => {
      const t0 = Date.now();
      const r = await s.docker(args);
      if (Date.now() - t0 > 5000) console.log(`slow: docker ${args.join(' ')}: ${Date.now() - t0} ms`);
      assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.err}`);
      return r.out.trim();
    };
    assert.equal(await ok(['volume', 'create', '--label', 'x=y', 'v1']), 'v1');
    const [mp, label, driver] = (await ok(['volume', 'inspect', '--format', '{{.Mountpoint}} {{.Labels.x}} {{.Driver}}', 'v1'])).split(' ');
    assert.equal(label, 'y');
    assert.equal(driver, 'local');
    assert.equal(mp, join(s.root, 'volumes', 'v1', '_data'));
    // creating it again answers the same volume
    assert.equal(await ok(['volume', 'create', 'v1']), 'v1');

    await ok(['run', '--rm', '-v', 'v1:/data', 'busybox', 'sh', '-c', 'echo hello > /data/f']);
    assert.equal(readFileSync(join(mp!, 'f'), 'utf8'), 'hello\n');

    assert.equal(await ok(['volume', 'create', 'v2']), 'v2');
    assert.equal(await ok(['volume', 'ls', '-q', '--filter', 'label=x=y']), 'v1');
    assert.deepEqual((await ok(['volume', 'ls', '--format', '{{.Name}} {{.Driver}}'])).split('\n'), ['local v1', 'local v2'].map((l) => l.split(' ').reverse().join(' ')));

    // in use: refused, with or without force
    await ok(['run', '-d', '--name', 'holder', '-v', 'v1:/data', 'busybox', 'sleep', '60']);
    for (const args of [['volume', 'rm', 'v1'], ['volume', 'rm', '-f', 'v1']]) {
      const r = await s.docker(args);
      assert.equal(r.code, 1);
      assert.match(r.err, /volume is in use/);
    }
    assert.equal(await ok(['volume', 'ls', '-q', '--filter', 'dangling=true']), 'v2');

    // an anonymous volume (no name: label com.docker.volume.anonymous) is pruned; a named one only with --all
    const anon = await ok(['volume', 'create']);
    assert.match(anon, /^[0-9a-f]{64}$/);
    const labels = await ok(['volume', 'inspect', '--format', '{{json .Labels}}', anon]);
    assert.deepEqual(JSON.parse(labels), { 'com.docker.volume.anonymous': '' });
    const prune = await ok(['volume', 'prune', '-f']);
    assert.match(prune, new RegExp(`Deleted Volumes:\\n${anon}\\n`));
    assert.doesNotMatch(prune, /\bv2\b/);
    assert.ok(!existsSync(join(s.root, 'volumes', anon)));
    assert.deepEqual((await ok(['volume', 'ls', '-q'])).split('\n'), ['v1', 'v2']);
    // API < 1.42 prunes every unused volume
    const old = await s.http('POST', '/v1.41/volumes/prune');
    assert.equal(old.status, 200, old.body);
    assert.deepEqual(JSON.parse(old.body), { VolumesDeleted: ['v2'], SpaceReclaimed: 0 });

    // HTTP shapes and codes
    const list = await s.http('GET', '/volumes?filters=' + encodeURIComponent('{"name":["v1"]}'));
    assert.equal(list.status, 200);
    const lj = JSON.parse(list.body);
    assert.deepEqual(lj.Warnings, []);
    assert.deepEqual(lj.Volumes.map((v: { Name: string }) => v.Name), ['v1']);
    assert.equal(lj.Volumes[0].Scope, 'local');
    const made = await s.http('POST', '/volumes/create', { Name: 'v3', Labels: { k: 'v' } });
    assert.equal(made.status, 201);
    assert.equal(JSON.parse(made.body).Labels.k, 'v');
    const missing = await s.http('GET', '/volumes/nosuch');
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).message, 'get nosuch: no such volume');
    assert.equal((await s.http('DELETE', '/volumes/nosuch')).status, 404);
    assert.equal((await s.http('DELETE', '/volumes/nosuch?force=1')).status, 204);
    assert.equal((await s.http('DELETE', '/volumes/v1')).status, 409);
    assert.equal((await s.http('DELETE', '/volumes/v3')).status, 204);
    assert.equal((await s.http('GET', '/volumes?filters=' + encodeURIComponent('{"bogus":["x"]}'))).status, 400);
    await ok(['rm', '-f', 'holder']);
  });
});

test('docker system df (-v), /system/df shape, swarm endpoints 503, /build/prune', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const r0 = await s.docker(['run', '--name', 'dfc', '-v', 'dfvol:/data', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /data/z']);
    assert.equal(r0.code, 0, r0.err);

    const df = await s.docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Active}}']);
    assert.equal(df.code, 0, df.err);
    assert.deepEqual(df.out.trim().split('\n'), ['Images 1 1', 'Containers 1 0', 'Local Volumes 1 1', 'Build Cache 0 0']);
    const v = await s.docker(['system', 'df', '-v']);
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /^busybox\s+latest\s+[0-9a-f]{12}\s/m);
    assert.match(v.out, /^dfvol\s+1\s+100kB/m);
    assert.match(v.out, /\s1\s.*Exited \(0\).*\sdfc$/m);

    const raw = await s.http('GET', '/system/df');
    assert.equal(raw.status, 200);
    const j = JSON.parse(raw.body);
    assert.equal(typeof j.LayersSize, 'number');
    assert.ok(j.LayersSize > 0);
    assert.deepEqual(j.Images[0].RepoTags, ['busybox:latest']);
    assert.equal(j.Images[0].Containers, 1);
    assert.equal(j.Containers[0].Names[0], '/dfc');
    assert.equal(typeof j.Containers[0].SizeRw, 'number');
    assert.deepEqual(j.Volumes[0].UsageData, { Size: 100000, RefCount: 1 });
    assert.deepEqual(j.BuildCache, []);
    const only = JSON.parse((await s.http('GET', '/system/df?type=volume')).body);
    assert.deepEqual(Object.keys(only), ['Volumes']);
    assert.equal((await s.http('GET', '/system/df?type=bogus')).status, 400);

    for (const [m, p] of [['GET', '/swarm'], ['POST', '/swarm/leave?force=1'], ['GET', '/nodes'], ['GET', '/services'], ['GET', '/tasks'],
      ['GET', '/secrets'], ['GET', '/configs'], ['GET', '/swarm/unlockkey'], ['GET', '/v1.47/services/x']] as const) {
      const r = await s.http(m, p);
      assert.equal(r.status, 503, `${m} ${p}`);
      assert.equal(JSON.parse(r.body).message, 'This node is not part of a swarm');
    }
    const nodes = await s.docker(['node', 'ls']);
    assert.equal(nodes.code, 1);
    assert.match(nodes.err, /not part of a swarm/);

    const bp = await s.http('POST', '/build/prune?all=1');
    assert.equal(bp.status, 200);
    assert.deepEqual(JSON.parse(bp.body), { CachesDeleted: [], SpaceReclaimed: 0 });
  });
});

test('docker system prune -f --volumes through berth serve', { skip, timeout: 120_000 }, async (t) => {
  await withServer(async (s) => {
    for (const p of ['/containers/prune', '/images/prune']) {
      if ((await s.http('POST', `${p}?filters=${encodeURIComponent('{"label":["berth.test.none"]}')}`)).status === 404) {
        t.skip(`POST ${p} is not served yet (the containers/images areas of berth serve)`);
        return;
      }
    }
    const ok = async (args: string[]) => {
      const r = await s.docker(args);
      assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.err}`);
      return r.out.trim();
    };
    const exited = await ok(['run', '-d', 'busybox', 'true']);
    await ok(['wait', exited]);
    await ok(['run', '-d', '--name', 'keep', 'busybox', 'sleep', '60']);
    const anon = await ok(['volume', 'create']);
    await ok(['volume', 'create', 'named']);
    const out = await ok(['system', 'prune', '-f', '--volumes']);
    assert.match(out, new RegExp(`Deleted Containers:\\n${exited}\\n`));
    assert.match(out, new RegExp(`Deleted Volumes:\\n${anon}\\n`));
    assert.match(out, /Total reclaimed space: /);
    assert.equal(await ok(['ps', '-aq', '--no-trunc']), (await ok(['inspect', '--format', '{{.Id}}', 'keep'])));
    assert.equal(await ok(['volume', 'ls', '-q']), 'named');
    assert.equal(await ok(['images', '--format', '{{.Repository}}']), 'busybox');
    await ok(['rm', '-f', 'keep']);
  });
});
