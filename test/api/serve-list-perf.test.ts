/**
 * `GET /containers/json` builds its rows from the store without a full inspect per container
 * (containers-list.ts, listView): each row must still say what inspect says. 30 containers with
 * names, labels, exposed ports, mounts, entrypoints, healthchecks and the three states mixed;
 * every row checked against `GET /containers/{id}/json`, and the filters that read the rows.
 * Content only: no timing here (bench/serve.ts measures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cannotServe, withServer, type Served } from './util.js';

const skip = cannotServe();
const N = 30;

type Json = Record<string, any>;

/** The row inspect implies (the list's summary as it was first written, from inspect). */
function rowFromInspect(j: Json): Json {
  const ports: Json[] = [];
  for (const [k, binds] of Object.entries((j.NetworkSettings?.Ports ?? {}) as Record<string, { HostIp: string; HostPort: string }[] | null>)) {
    const [port, type = 'tcp'] = k.split('/');
    if (!binds) { ports.push({ PrivatePort: Number(port), Type: type }); continue; }
    for (const b of binds) ports.push({ IP: b.HostIp || '0.0.0.0', PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return {
    Id: j.Id, Names: [j.Name], Image: j.Config.Image, ImageID: j.Image,
    Command: [j.Path, ...(j.Args ?? [])].filter((x) => x !== undefined && x !== '').join(' '),
    Created: Math.floor(Date.parse(j.Created) / 1000), Ports: ports, Labels: j.Config.Labels ?? {}, State: j.State.Status,
    HostConfig: { NetworkMode: j.HostConfig.NetworkMode ?? '' }, NetworkSettings: { Networks: j.NetworkSettings.Networks }, Mounts: j.Mounts,
  };
}

async function json(s: Served, method: string, path: string, body?: unknown): Promise<any> {
  const r = await s.http(method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
  return r.body ? JSON.parse(r.body) : undefined;
}

test('GET /containers/json: 30 mixed containers, each row as inspect says', { skip, timeout: 240_000 }, async () => {
  await withServer(async (s) => {
    const kinds = new Map<string, 'created' | 'exited' | 'running'>();
    for (let i = 0; i < N; i++) {
      const kind = (['created', 'exited', 'running'] as const)[i % 3]!;
      const body: Json = {
        Image: 'busybox', Cmd: kind === 'exited' ? ['sh', '-c', `exit ${i % 5}`] : ['sleep', '300'],
        Labels: { idx: String(i), group: i % 2 ? 'odd' : 'even', ...(i % 4 === 0 ? { 'com.example.x': 'y z' } : {}) },
        ExposedPorts: { [`${8000 + i}/tcp`]: {}, ...(i % 5 === 0 ? { '53/udp': {} } : {}) },
        HostConfig: {
          ...(i % 6 === 0 ? { Binds: [`vol${i}:/data`] } : {}),
          ...(i % 7 === 0 ? { Tmpfs: { '/scratch': '' } } : {}),
          ...(i % 4 === 1 ? { NetworkMode: 'none' } : {}),
        },
        ...(i % 8 === 2 ? { Entrypoint: ['/bin/sh', '-c'], Cmd: [kind === 'exited' ? `exit ${i % 5}` : 'sleep 300'] } : {}),
        ...(i % 9 === 5 ? { Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 3_600_000_000_000 } } : {}),
      };
      const { Id } = await json(s, 'POST', `/containers/create?name=list-${i}`, body);
      kinds.set(Id, kind);
      if (kind !== 'created') await json(s, 'POST', `/containers/${Id}/start`);
      if (kind === 'exited') await json(s, 'POST', `/containers/${Id}/wait`);
    }

    const all: Json[] = await json(s, 'GET', '/containers/json?all=1');
    const mine = all.filter((r) => kinds.has(r.Id));
    assert.equal(mine.length, N);
    // newest first, as Docker lists
    assert.deepEqual(mine.map((r) => r.Names[0]), [...Array(N).keys()].reverse().map((i) => `/list-${i}`));
    for (const row of mine) {
      const j: Json = await json(s, 'GET', `/containers/${row.Id}/json`);
      const { Status, ...rest } = row;
      assert.deepEqual(rest, rowFromInspect(j), `row of ${row.Names[0]}`);
      const kind = kinds.get(row.Id)!;
      assert.equal(row.State, kind, row.Names[0]);
      if (kind === 'created') assert.equal(Status, 'Created');
      if (kind === 'exited') assert.match(Status, new RegExp(`^Exited \\(${j.State.ExitCode}\\) .* ago$`));
      if (kind === 'running') assert.match(Status, j.Config.Healthcheck ? /^Up .* \((health: starting|healthy)\)$/ : /^Up [^()]*$/);
      // a running container lists its exposed ports, with no binding (no published port here)
      if (kind === 'running') assert.ok(row.Ports.some((p: Json) => p.PrivatePort === 8000 + Number(row.Labels.idx) && p.Type === 'tcp' && p.PublicPort === undefined), JSON.stringify(row.Ports));
      if (row.Labels.idx % 6 === 0) assert.ok(row.Mounts.some((m: Json) => m.Type === 'volume' && m.Name === `vol${row.Labels.idx}` && m.Destination === '/data'), JSON.stringify(row.Mounts));
    }

    // without all: the running ones only; the filters that read the rows
    const running: Json[] = (await json(s, 'GET', '/containers/json')).filter((r: Json) => kinds.has(r.Id));
    assert.deepEqual(running.map((r) => r.Id).sort(), [...kinds].filter(([, k]) => k === 'running').map(([id]) => id).sort());
    const q = (f: Json) => `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify(f))}`;
    const even: Json[] = await json(s, 'GET', q({ label: ['group=even'] }));
    assert.deepEqual(even.map((r) => r.Labels.idx).sort(), [...Array(N).keys()].filter((i) => i % 2 === 0).map(String).sort());
    const exposed: Json[] = await json(s, 'GET', q({ expose: ['8002/tcp'] }));
    assert.deepEqual(exposed.map((r) => r.Names[0]), ['/list-2']);
    const none: Json[] = await json(s, 'GET', q({ network: ['none'], label: ['group=odd'] }));
    assert.ok(none.length > 0);
    for (const r of none) assert.ok('none' in r.NetworkSettings.Networks, JSON.stringify(r.NetworkSettings));
    const sized: Json[] = await json(s, 'GET', q({ name: ['list-4$'] }) + '&size=1');
    assert.equal(sized.length, 1);
    assert.equal(typeof sized[0].SizeRw, 'number');
    assert.ok(sized[0].SizeRootFs >= sized[0].SizeRw);
    // the healthchecked ones (5, 14, 23: all running) and no other
    const checked: Json[] = await json(s, 'GET', q({ health: ['starting', 'healthy'] }));
    assert.deepEqual(checked.map((r) => r.Names[0]).sort(), ['/list-14', '/list-23', '/list-5']);
  });
});
