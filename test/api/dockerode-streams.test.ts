/**
 * dockerode 5's streaming calls against a real `berth serve`: pull with `modem.followProgress`
 * from a local registry, the event stream, the stats stream, and builds from a tar stream (plain
 * and dockerode's own gzip'd `{context, src}` packing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import tarStream from 'tar-stream';
import { push, tag } from '../../src/image/index.js';
import { haveRegistry, startRegistry } from '../helpers/registry.js';
import { cannotServe, demuxBuffer, withServer } from './util.js';

const skip = cannotServe();

type Progress = { status?: string; id?: string; stream?: string; aux?: { ID?: string }; error?: string; errorDetail?: { message: string } };

function follow(docker: Docker, stream: Readable): Promise<{ output: Progress[]; seen: Progress[] }> {
  const seen: Progress[] = [];
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: Progress[]) => (err ? reject(err) : resolve({ output, seen })), (e: Progress) => seen.push(e));
  });
}

/** JSON objects, one per line, from a stream, until `enough` says so. */
function lines<T>(stream: Readable, enough: (all: T[]) => boolean, ms = 20_000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const all: T[] = [];
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(all).slice(0, 2000)}`)), ms);
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) all.push(JSON.parse(line) as T);
      }
      if (enough(all)) { clearTimeout(timer); resolve(all); }
    });
    stream.on('error', (e) => { clearTimeout(timer); reject(e); });
    stream.on('end', () => { clearTimeout(timer); resolve(all); });
  });
}

test('dockerode: pull with followProgress from a registry; a missing repository is a 404', { skip: skip ?? (haveRegistry() ? undefined : 'no docker-registry'), timeout: 120_000 }, async () => {
  const reg = await startRegistry();
  try {
    await withServer(async (s) => {
      const docker = new Docker({ socketPath: s.socket });
      const ref = `${reg.host}/dode/bb:1`;
      await tag(s.core.images, 'busybox:latest', ref);
      await push(s.core.images, ref);
      await docker.getImage(ref).remove();
      await assert.rejects(docker.getImage(ref).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);

      const { output, seen } = await follow(docker, await docker.pull(ref) as Readable);
      assert.equal(output.length, seen.length);
      assert.ok(!output.some((e) => e.error || e.errorDetail), JSON.stringify(output));
      assert.deepEqual(output[0], { status: 'Pulling from dode/bb', id: '1' });
      assert.ok(output.some((e) => /^Digest: sha256:[0-9a-f]{64}$/.test(e.status ?? '')), JSON.stringify(output));
      assert.match(output.at(-1)!.status!, new RegExp(`^Status: (Downloaded newer image|Image is up to date) for ${reg.host}/dode/bb:1$`));
      const img = await docker.getImage(ref).inspect();
      assert.ok(img.RepoTags.includes(ref), JSON.stringify(img.RepoTags));
      assert.equal(img.Id, (await docker.getImage('busybox').inspect()).Id);

      await assert.rejects(docker.pull(`${reg.host}/dode/nosuch:1`), (e: { statusCode?: number }) => e.statusCode === 404);
    });
  } finally {
    await reg.stop();
  }
});

test('dockerode: events (array filters) and the stats stream of a running container', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const docker = new Docker({ socketPath: s.socket });
    const since = Math.floor(Date.now() / 1000) - 1;
    const events = await docker.getEvents({ filters: { type: ['container'], event: ['create', 'start', 'die'] } }) as unknown as Readable;
    const c = await docker.createContainer({ Image: 'busybox', name: 'ev1', Cmd: ['sh', '-c', 'exit 7'], Labels: { team: 'x' } });
    await c.start();
    await c.wait();
    type Ev = { Type: string; Action: string; status?: string; id?: string; Actor: { ID: string; Attributes: Record<string, string> }; time: number; timeNano: number; scope: string };
    const got = await lines<Ev>(events, (all) => all.some((e) => e.Action === 'die'));
    events.destroy();
    assert.deepEqual(got.map((e) => e.Action), ['create', 'start', 'die']);
    for (const e of got) {
      assert.equal(e.Type, 'container');
      assert.equal(e.Actor.ID, c.id);
      assert.equal(e.id, c.id);
      assert.equal(e.scope, 'local');
      assert.equal(e.Actor.Attributes.name, 'ev1');
      assert.equal(e.Actor.Attributes.image, 'busybox');
      assert.equal(e.Actor.Attributes.team, 'x');
      assert.ok(e.time >= since && Math.floor(e.timeNano / 1e9) === e.time);
    }
    assert.equal(got[2]!.Actor.Attributes.exitCode, '7');
    // replayed with since/until: the stream ends by itself
    const replay = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { container: ['ev1'] } }) as unknown as Readable;
    const past = await lines<Ev>(replay, () => false, 10_000);
    assert.deepEqual(past.filter((e) => e.Actor.ID === c.id).map((e) => e.Action).filter((a) => ['create', 'start', 'die'].includes(a)), ['create', 'start', 'die']);
    assert.ok(past.every((e) => e.Actor.Attributes.name === 'ev1'));

    const r = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'while :; do i=$((i+1)); done'] });
    await r.start();
    try {
      type Stats = { id: string; name: string; read: string; cpu_stats: { cpu_usage: { total_usage: number }; online_cpus: number; system_cpu_usage: number }; precpu_stats: { cpu_usage: { total_usage: number } }; memory_stats: { usage: number; limit: number }; pids_stats: { current: number } };
      const stream = await r.stats({ stream: true }) as unknown as Readable;
      const samples = await lines<Stats>(stream, (all) => all.length >= 3, 15_000);
      stream.destroy();
      const [a, b, c3] = samples as [Stats, Stats, Stats];
      for (const x of [a, b, c3]) {
        assert.equal(x.id, r.id);
        assert.match(x.name, /^\/.+/);
        assert.ok(x.memory_stats.usage > 0 && x.memory_stats.limit > 0, JSON.stringify(x.memory_stats));
        assert.ok(x.pids_stats.current >= 1);
        assert.ok(x.cpu_stats.online_cpus >= 1);
      }
      assert.ok(Date.parse(b.read) > Date.parse(a.read), 'samples come over time');
      assert.ok(c3.cpu_stats.cpu_usage.total_usage > a.cpu_stats.cpu_usage.total_usage, 'a busy loop uses CPU');
      assert.equal(c3.precpu_stats.cpu_usage.total_usage, b.cpu_stats.cpu_usage.total_usage, 'precpu is the previous sample');
      const one = await r.stats({ stream: false }) as unknown as Stats;
      assert.equal(one.id, r.id);
      assert.ok(one.precpu_stats.cpu_usage.total_usage > 0 && one.cpu_stats.cpu_usage.total_usage >= one.precpu_stats.cpu_usage.total_usage);
    } finally {
      await r.remove({ force: true });
    }
  });
});

test('dockerode: buildImage from a tar stream and from {context, src} (gzip), then run the image', { skip, timeout: 180_000 }, async () => {
  await withServer(async (s) => {
    const docker = new Docker({ socketPath: s.socket });
    const pack = tarStream.pack();
    pack.entry({ name: 'Dockerfile' }, 'FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo built >> /hello.txt\nCMD ["cat", "/hello.txt"]\n');
    pack.entry({ name: 'hello.txt' }, 'from the context\n');
    pack.finalize();
    const { output } = await follow(docker, await docker.buildImage(pack as unknown as NodeJS.ReadableStream, { t: 'dode-built:1' }) as Readable);
    assert.ok(!output.some((e) => e.error || e.errorDetail), JSON.stringify(output));
    const text = output.map((e) => e.stream ?? '').join('');
    assert.match(text, /Step 1\/4 : FROM busybox/);
    assert.match(text, /Successfully tagged dode-built:1\n/);
    const id = output.find((e) => e.aux?.ID)?.aux?.ID;
    assert.match(id ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal((await docker.getImage('dode-built:1').inspect()).Id, id);

    const c = await docker.createContainer({ Image: 'dode-built:1' });
    await c.start();
    assert.equal((await c.wait()).StatusCode, 0);
    const logs = demuxBuffer(await c.logs({ stdout: true }) as unknown as Buffer).out;
    assert.equal(logs, 'from the context\nbuilt\n');
    await c.remove();

    // dockerode packs a directory itself (tar-fs + gzip) and sends Content-Type application/tar
    const dir = mkdtempSync(join(tmpdir(), 'berth-dode-ctx-'));
    try {
      writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nARG WHO=nobody\nRUN echo "hi $WHO" > /who\nLABEL made.by=dockerode\n');
      const { output: o2 } = await follow(docker, await docker.buildImage({ context: dir, src: ['Dockerfile'] }, { t: 'dode-built:2', buildargs: { WHO: 'dockerode' } }) as Readable);
      assert.ok(!o2.some((e) => e.error || e.errorDetail), JSON.stringify(o2));
      const img = await docker.getImage('dode-built:2').inspect();
      assert.equal(img.Config.Labels['made.by'], 'dockerode');
      const c2 = await docker.createContainer({ Image: 'dode-built:2', Cmd: ['cat', '/who'] });
      await c2.start();
      await c2.wait();
      assert.equal(demuxBuffer(await c2.logs({ stdout: true }) as unknown as Buffer).out, 'hi dockerode\n');
      await c2.remove();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // a failing RUN: in-band errorDetail with the exit code
    const bad = tarStream.pack();
    bad.entry({ name: 'Dockerfile' }, 'FROM busybox\nRUN exit 3\n');
    bad.finalize();
    const { output: o3 } = await follow(docker, await docker.buildImage(bad as unknown as NodeJS.ReadableStream, { t: 'dode-bad:1' }) as Readable);
    const failed = o3.find((e) => e.errorDetail);
    assert.ok(failed, JSON.stringify(o3));
    assert.match(failed!.errorDetail!.message, /returned a non-zero code: 3/);
  });
});
