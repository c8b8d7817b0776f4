/** `berth serve`: docker cp both ways, commit, top, update, pause/unpause, rename, diff, export, stats, prune, wait conditions, ps filters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProc, sleep } from './serve-containers-util.js';
import { cannotServe, withServer } from './util.js';

const skip = cannotServe();

test('docker cp both ways; the path stat header; errors', { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-apicp-'));
  try {
    await withServer(async (s) => {
      assert.equal((await s.docker(['run', '-d', '--name', 'box', 'busybox', 'sh', '-c', 'mkdir -p /d/sub && echo deep > /d/sub/f && chmod 750 /d/sub && echo hi > /hi && sleep 300'])).code, 0);
      await sleep(500);
      const one = await s.docker(['cp', 'box:/hi', join(dir, 'hi.txt')]);
      assert.equal(one.code, 0, one.err);
      assert.equal(readFileSync(join(dir, 'hi.txt'), 'utf8'), 'hi\n');
      const tree = await s.docker(['cp', 'box:/d', dir]);
      assert.equal(tree.code, 0, tree.err);
      assert.equal(readFileSync(join(dir, 'd/sub/f'), 'utf8'), 'deep\n');
      assert.equal(statSync(join(dir, 'd/sub')).mode & 0o777, 0o750);

      mkdirSync(join(dir, 'up/inner'), { recursive: true });
      writeFileSync(join(dir, 'up/inner/x'), 'from host\n', { mode: 0o640 });
      const put = await s.docker(['cp', join(dir, 'up'), 'box:/tmp/up']);
      assert.equal(put.code, 0, put.err);
      assert.equal((await s.docker(['exec', 'box', 'cat', '/tmp/up/inner/x'])).out, 'from host\n');
      assert.equal((await s.docker(['exec', 'box', 'stat', '-c', '%a', '/tmp/up/inner/x'])).out, '640\n');
      writeFileSync(join(dir, 'single'), 'one file\n');
      assert.equal((await s.docker(['cp', join(dir, 'single'), 'box:/tmp/renamed'])).code, 0);
      assert.equal((await s.docker(['exec', 'box', 'cat', '/tmp/renamed'])).out, 'one file\n');

      const head = await s.http('HEAD', '/containers/box/archive?path=/d');
      assert.equal(head.status, 200);
      const st = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
      assert.equal(st.name, 'd');
      assert.equal(st.mode, 2 ** 31 + 0o755, 'Go os.FileMode: ModeDir | 0755');
      const noParent = await s.docker(['cp', join(dir, 'up'), 'box:/nosuch/up']);
      assert.equal(noParent.code, 1);
      assert.match(noParent.err, /Could not find the file \/nosuch in container/);
      const missing = await s.docker(['cp', 'box:/nosuch', dir]);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /Could not find the file \/nosuch in container/);
      const notDir = await s.http('PUT', '/containers/box/archive?path=/hi', {});
      assert.equal(notDir.status, 400, notDir.body);
      assert.equal((await s.http('HEAD', '/containers/nosuch/archive?path=/')).status, 404);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('docker top, pause/unpause, rename, update, diff, export, commit', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    assert.equal((await s.docker(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'echo data > /made; rm /bin/bc; sleep 300'])).code, 0);
    await sleep(500);
    const top = await s.docker(['top', 'web']);
    assert.equal(top.code, 0, top.err);
    assert.match(top.out, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
    assert.match(top.out, /sleep 300/);
    const topo = await s.docker(['top', 'web', '-o', 'pid,comm']);
    assert.match(topo.out, /^PID\s+COMMAND\n\d+\s+sleep\n$/);

    assert.equal((await s.docker(['pause', 'web'])).code, 0);
    assert.equal((await s.docker(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'web'])).out, 'paused true\n');
    assert.match((await s.docker(['ps', '--format', '{{.Status}}'])).out, /\(Paused\)/);
    const execPaused = await s.docker(['exec', 'web', 'true']);
    assert.equal(execPaused.code, 1);
    const again = await s.docker(['pause', 'web']);
    assert.equal(again.code, 1);
    assert.match(again.err, /is already paused/);
    assert.equal((await s.docker(['unpause', 'web'])).code, 0);
    assert.equal((await s.docker(['inspect', '-f', '{{.State.Status}}', 'web'])).out, 'running\n');

    assert.equal((await s.docker(['rename', 'web', 'w2'])).code, 0);
    assert.equal((await s.docker(['inspect', '-f', '{{.Name}}', 'w2'])).out, '/w2\n');
    assert.equal((await s.docker(['inspect', 'web'])).code, 1);

    const up = await s.docker(['update', '--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', '--pids-limit', '50', '--restart', 'on-failure:2', 'w2']);
    assert.equal(up.code, 0, up.err);
    assert.equal((await s.docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'w2'])).out,
      '67108864 512 50 on-failure:2\n');
    const stats = await s.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'w2']);
    assert.equal(stats.code, 0, stats.err);
    assert.match(stats.out, /^w2 [\d.]+[KMG]?i?B \/ 64MiB 1\n$/, 'the new memory limit is the container cgroup\'s');

    const diff = await s.docker(['diff', 'w2']);
    assert.equal(diff.code, 0, diff.err);
    assert.match(diff.out, /^A \/made$/m);
    assert.match(diff.out, /^D \/bin\/bc$/m);

    const tar = await runProc('sh', ['-c', `docker -H unix://${s.socket} export w2 | tar -tf - | grep -E '^(\\./)?made$'`], { HOME: tmpdir() });
    assert.equal(tar.code, 0, tar.err);

    const commit = await s.docker(['commit', '-c', 'ENV MARK=committed', '-m', 'a message', 'w2', 'snap:1']);
    assert.equal(commit.code, 0, commit.err);
    assert.match(commit.out, /^sha256:[0-9a-f]{64}\n$/);
    const run = await s.docker(['run', '--rm', 'snap:1', 'sh', '-c', 'cat /made; echo $MARK; test -e /bin/bc || echo nobc']);
    assert.equal(run.out, 'data\ncommitted\nnobc\n', run.err);
    const hist = await s.http('GET', '/images/snap:1/json');
    assert.equal(JSON.parse(hist.body).Id, commit.out.trim());
    const bad = await s.http('POST', '/commit?container=nosuch&repo=x');
    assert.equal(bad.status, 404);
    await s.docker(['rm', '-f', 'w2']);
  });
});

test('stats stream and one-shot shapes; wait conditions; container prune; ps filters', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    assert.equal((await s.docker(['run', '-d', '--name', 'busy', '-l', 'team=a', 'busybox', 'sh', '-c', 'while :; do :; done'])).code, 0);
    // stream: samples a second apart, each with the previous one's CPU counters
    const lines = await new Promise<string[]>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request({ socketPath: s.socket, path: '/v1.47/containers/busy/stats', method: 'GET' }, (res) => {
          let buf = '';
          res.on('data', (d: Buffer) => {
            buf += d.toString();
            const got = buf.split('\n').filter(Boolean);
            if (got.length >= 2) { req.destroy(); resolve(got); }
          });
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    const [a, b] = lines.map((l) => JSON.parse(l));
    for (const k of ['cpu_stats', 'precpu_stats', 'memory_stats', 'pids_stats', 'blkio_stats', 'name', 'id', 'read', 'preread']) assert.ok(k in b, k);
    assert.equal(b.name, '/busy');
    assert.equal(b.precpu_stats.cpu_usage.total_usage, a.cpu_stats.cpu_usage.total_usage);
    assert.ok(b.cpu_stats.cpu_usage.total_usage > a.cpu_stats.cpu_usage.total_usage, 'a busy loop uses CPU');
    assert.ok(b.cpu_stats.system_cpu_usage > 0 && b.cpu_stats.online_cpus > 0);
    assert.ok(b.memory_stats.usage > 0 && b.memory_stats.limit > 0);
    assert.equal(b.pids_stats.current, 1);
    const oneShot = JSON.parse((await s.http('GET', '/containers/busy/stats?stream=0&one-shot=1')).body);
    assert.equal(oneShot.id.length, 64);
    const cli = await s.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}}', 'busy']);
    assert.equal(cli.code, 0, cli.err);
    const cpu = Number(/busy ([\d.]+)%/.exec(cli.out)?.[1]);
    assert.ok(cpu > 5, `a busy loop shows CPU: ${cli.out}`);

    // wait conditions over HTTP: next-exit on a created container, removed on an --rm one
    const created = JSON.parse((await s.http('POST', '/containers/create?name=later', { Image: 'busybox', Cmd: ['sh', '-c', 'exit 4'] })).body).Id;
    const nextExit = s.http('POST', `/containers/${created}/wait?condition=next-exit`);
    await sleep(300);
    assert.equal((await s.http('POST', `/containers/${created}/start`)).status, 204);
    assert.deepEqual(JSON.parse((await nextExit).body), { StatusCode: 4 });
    const notRunning = JSON.parse((await s.http('POST', `/containers/${created}/wait`)).body);
    assert.deepEqual(notRunning, { StatusCode: 4 });
    const rm = JSON.parse((await s.http('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 0.5; exit 2'], HostConfig: { AutoRemove: true } })).body).Id;
    const removed = s.http('POST', `/containers/${rm}/wait?condition=removed`);
    await s.http('POST', `/containers/${rm}/start`);
    assert.deepEqual(JSON.parse((await removed).body), { StatusCode: 2 });
    assert.equal((await s.http('GET', `/containers/${rm}/json`)).status, 404);
    assert.equal((await s.http('POST', `/containers/${created}/wait?condition=bogus`)).status, 400);

    // ps filters as the CLI sends them
    assert.equal((await s.docker(['run', '--name', 'done0', '-l', 'team=b', 'busybox', 'true'])).code, 0);
    const ps = async (...f: string[]) => (await s.docker(['ps', '-a', '--format', '{{.Names}}', ...f.flatMap((x) => ['--filter', x])])).out.split('\n').filter(Boolean).sort();
    assert.deepEqual(await ps('status=exited'), ['done0', 'later']);
    assert.deepEqual(await ps('status=running'), ['busy']);
    assert.deepEqual(await ps('label=team=a'), ['busy']);
    assert.deepEqual(await ps('exited=4'), ['later']);
    assert.deepEqual(await ps('name=^/?done'), ['done0']);
    assert.deepEqual(await ps('ancestor=busybox', 'label=team'), ['busy', 'done0']);
    assert.deepEqual(await ps('health=none', 'status=running'), ['busy']);
    assert.deepEqual(await ps('health=healthy'), []);
    assert.deepEqual(await ps('is-task=true'), []);
    const sized = await s.docker(['ps', '-s', '--filter', 'name=busy', '--format', '{{.Size}}']);
    assert.match(sized.out, /^\d+(\.\d+)?[kMG]?B \(virtual [\d.]+[kMG]?B\)\n$/, sized.err);

    const pruned = await s.http('POST', '/containers/prune?filters=' + encodeURIComponent(JSON.stringify({ label: { 'team=b': true } })));
    assert.equal(pruned.status, 200, pruned.body);
    const body = JSON.parse(pruned.body);
    assert.equal(body.ContainersDeleted.length, 1);
    assert.equal(typeof body.SpaceReclaimed, 'number');
    assert.deepEqual(await ps(), ['busy', 'later']);
    const cliPrune = await s.docker(['container', 'prune', '-f']);
    assert.equal(cliPrune.code, 0, cliPrune.err);
    assert.match(cliPrune.out, new RegExp(`Deleted Containers:\\n${created}\\n`));
    assert.deepEqual(await ps(), ['busy']);
    await s.docker(['rm', '-f', 'busy']);
  });
});
