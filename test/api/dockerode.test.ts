/**
 * dockerode 5 (the npm client, as a Node program uses it) against a real `berth serve`: ping,
 * version, info; create/start/attach (hijacked and not)/wait with `modem.demuxStream`; exec with a
 * hijacked stdin; logs, followed and not; inspect fields after each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { cannotServe, demuxBuffer, withServer } from './util.js';

const skip = cannotServe();

/** A sink for demuxStream, and what it got. */
function sink(): PassThrough & { text(): string } {
  const p = new PassThrough() as PassThrough & { text(): string };
  let s = '';
  p.on('data', (d: Buffer) => { s += d.toString(); });
  p.text = () => s;
  return p;
}

const ended = (s: Readable | Duplex) => new Promise<void>((resolve, reject) => {
  if (s.readableEnded) { resolve(); return; }
  s.once('end', resolve);
  s.once('close', resolve);
  s.once('error', reject);
});

test('dockerode: ping, version, info', { skip, timeout: 60_000 }, async () => {
  await withServer(async (s) => {
    const docker = new Docker({ socketPath: s.socket });
    assert.equal(String(await docker.ping()), 'OK');
    const v = await docker.version();
    assert.equal(v.ApiVersion, '1.47');
    assert.equal(v.MinAPIVersion, '1.24');
    assert.equal(v.Os, 'linux');
    assert.ok(v.Version && v.GoVersion && v.KernelVersion, JSON.stringify(v));
    assert.equal(v.Components?.[0]?.Name, 'Engine');
    const info = await docker.info();
    assert.equal(info.OSType, 'linux');
    assert.equal(info.Images, 1);
    assert.equal(info.Containers, 0);
    assert.equal(info.Swarm.LocalNodeState, 'inactive');
    assert.ok(info.NCPU >= 1 && info.MemTotal > 0);
    // a client pinned to an older version
    const old = new Docker({ socketPath: s.socket, version: 'v1.41' });
    assert.equal((await old.version()).ApiVersion, '1.47');
    await assert.rejects(new Docker({ socketPath: s.socket, version: 'v1.99' }).version(), (e: { statusCode?: number; message: string }) =>
      e.statusCode === 400 && /client version 1\.99 is too new/.test(e.message));
  });
});

test('dockerode: create, start, attach (hijacked and not), demuxStream, wait, inspect, logs', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const docker = new Docker({ socketPath: s.socket });

    // attach without hijack before start (dockerode's docker.run() flow): output then EOF
    const c1 = await docker.createContainer({ Image: 'busybox', name: 'dode1', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], Labels: { k: 'v' } });
    assert.match(c1.id, /^[0-9a-f]{64}$/);
    const plain = await c1.attach({ stream: true, stdout: true, stderr: true }) as unknown as Readable;
    const [o1, e1] = [sink(), sink()];
    docker.modem.demuxStream(plain, o1, e1);
    await c1.start();
    const w1 = await c1.wait();
    await ended(plain);
    assert.equal(w1.StatusCode, 3);
    assert.equal(o1.text(), 'out\n');
    assert.equal(e1.text(), 'err\n');
    const i1 = await c1.inspect();
    assert.equal(i1.Name, '/dode1');
    assert.equal(i1.State.Status, 'exited');
    assert.equal(i1.State.ExitCode, 3);
    assert.equal(i1.State.Running, false);
    assert.deepEqual(i1.Config.Cmd, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(i1.Config.Labels, { k: 'v' });

    // logs without follow: the whole multiplexed body
    const logs = await c1.logs({ stdout: true, stderr: true, follow: false }) as unknown as Buffer;
    assert.ok(Buffer.isBuffer(logs));
    const split = demuxBuffer(logs);
    assert.match(split.out, /^(out\n)+$/);
    assert.match(split.err, /^(err\n)+$/);
    const stamped = demuxBuffer(await c1.logs({ stdout: true, timestamps: true, tail: 1 }) as unknown as Buffer);
    assert.match(stamped.out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out\n$/);

    // hijacked attach with stdin (StdinOnce: our EOF ends cat)
    const c2 = await docker.createContainer({
      Image: 'busybox', Cmd: ['sh', '-c', 'cat; echo done >&2'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
    });
    const duplex = await c2.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }) as unknown as Duplex;
    const [o2, e2] = [sink(), sink()];
    docker.modem.demuxStream(duplex, o2, e2);
    const waited = c2.wait({ condition: 'next-exit' });
    await c2.start();
    duplex.write('hello\nworld\n');
    duplex.end();
    assert.equal((await waited).StatusCode, 0);
    await ended(duplex);
    assert.equal(o2.text(), 'hello\nworld\n');
    assert.equal(e2.text(), 'done\n');

    // followed logs: the stream ends when the container does
    const c3 = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done; echo bye >&2'] });
    await c3.start();
    const follow = await c3.logs({ stdout: true, stderr: true, follow: true }) as unknown as Readable;
    const [o3, e3] = [sink(), sink()];
    docker.modem.demuxStream(follow, o3, e3);
    await ended(follow);
    assert.equal(o3.text(), 'line1\nline2\nline3\n');
    assert.equal(e3.text(), 'bye\n');
    assert.equal((await c3.inspect()).State.Status, 'exited');

    const list = await docker.listContainers({ all: true, filters: { label: ['k=v'] } });
    assert.deepEqual(list.map((c) => c.Names[0]), ['/dode1']);
    assert.equal(list[0]!.State, 'exited');
    assert.match(list[0]!.Status, /^Exited \(3\) /);
    for (const c of [c1, c2, c3]) await c.remove();
    await assert.rejects(c1.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
    assert.deepEqual(await docker.listContainers({ all: true }), []);
  });
});

test('dockerode: exec with hijack and stdin, exec inspect, 304 and 409', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const docker = new Docker({ socketPath: s.socket });
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '120'] });
    await c.start();
    try {
      // dockerode takes moby's 304 for an error
      await assert.rejects(c.start(), (e: { statusCode?: number }) => e.statusCode === 304);
      const ex = await c.exec({ Cmd: ['sh', '-c', 'cat; echo bye >&2; exit 5'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
      const stream = await ex.start({ hijack: true, stdin: true }) as unknown as Duplex;
      const [out, err] = [sink(), sink()];
      docker.modem.demuxStream(stream, out, err);
      stream.write('piped in\n');
      stream.end();
      await ended(stream);
      assert.equal(out.text(), 'piped in\n');
      assert.equal(err.text(), 'bye\n');
      const info = await ex.inspect();
      assert.equal(info.ExitCode, 5);
      assert.equal(info.Running, false);
      assert.equal(info.ContainerID, c.id);
      assert.deepEqual([info.ProcessConfig.entrypoint, ...info.ProcessConfig.arguments], ['sh', '-c', 'cat; echo bye >&2; exit 5']);

      // exec on a stopped container: 409
      await c.kill();
      await c.wait();
      await assert.rejects(c.exec({ Cmd: ['true'] }), (e: { statusCode?: number; message: string }) => e.statusCode === 409 && /is not running/.test(e.message));
    } finally {
      await c.remove({ force: true });
    }
  });
});

test('dockerode: exec.start without hijack (its default): the output on the response', { skip, timeout: 60_000 }, async () => {
  await withServer(async (s) => {
    const docker = new Docker({ socketPath: s.socket });
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '120'] });
    await c.start();
    try {
      const ex2 = await c.exec({ Cmd: ['sh', '-c', 'echo $((6*7)); pwd'], AttachStdout: true, AttachStderr: true, WorkingDir: '/tmp', Env: ['X=1'] });
      const s2 = await ex2.start({}) as unknown as Readable;
      const [o2, e2] = [sink(), sink()];
      docker.modem.demuxStream(s2, o2, e2);
      await ended(s2);
      assert.equal(o2.text(), '42\n/tmp\n');
      assert.equal(e2.text(), '');
      assert.equal((await ex2.inspect()).ExitCode, 0);
    } finally {
      await c.remove({ force: true });
    }
  });
});
