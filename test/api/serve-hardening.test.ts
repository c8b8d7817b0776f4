/**
 * `berth serve` under bad input: malformed and mistyped JSON, absurd sizes, clients that never
 * finish, a thousand idle connections; answers shaped by the request's API version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { serve } from '../../src/api/index.js';
import { busyboxEngine } from '../helpers/engine.js';
import { cannotServe, httpOn, rssOf, withServer } from './util.js';

const skip = cannotServe();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RawAnswer { status: number; headers: string; body: string; ms: number; closed: boolean }

/** One raw HTTP exchange on a unix socket: write `head` (+ `body`), read until the answer is complete or the socket closes. */
function raw(socket: string, head: string, body: Buffer | string = '', o: { waitMs?: number; feed?: (c: Socket) => void } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const c = createConnection(socket);
    let buf = Buffer.alloc(0);
    let settled = false;
    const parse = (closed: boolean): RawAnswer | undefined => {
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return closed ? { status: 0, headers: '', body: text, ms: Date.now() - t0, closed } : undefined;
      const headers = text.slice(0, end);
      const len = /\r\ncontent-length: (\d+)/i.exec(headers);
      const rest = text.slice(end + 4);
      const chunkedEnd = /\r\ntransfer-encoding: chunked/i.test(headers) && rest.endsWith('0\r\n\r\n');
      if (!closed && !chunkedEnd && (!len || rest.length < Number(len[1]))) return undefined;
      return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers)?.[1] ?? 0), headers, body: rest, ms: Date.now() - t0, closed };
    };
    const done = (a: RawAnswer) => { if (settled) return; settled = true; clearTimeout(timer); c.destroy(); resolve(a); };
    const timer = setTimeout(() => { const a = parse(true); done({ ...a!, status: a?.status ?? -1, closed: false }); }, o.waitMs ?? 10_000);
    c.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); const a = parse(false); if (a) done(a); });
    c.on('close', () => done(parse(true)!));
    c.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') reject(e); });
    c.write(head);
    if (body.length) c.write(body);
    o.feed?.(c);
  });
}

const post = (path: string, body: string) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('malformed or mistyped JSON: 400 naming the field, never a 500 or a crash; answers by API version', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {

    const malformed = await raw(s.socket, post('/v1.47/containers/create', '{"Image": "busybox", "Cmd": ['));
    assert.equal(malformed.status, 400, malformed.body);
    assert.match(malformed.headers, /\r\nContent-Type: application\/json\r\n/);
    assert.match(JSON.parse(malformed.body).message, /^invalid JSON: /);

    const cases: Array<[unknown, string, string]> = [
      [{ Image: 'busybox', Cmd: 5 }, 'Cmd', 'number 5'],
      [{ Image: 'busybox', Env: 'x' }, 'Env', 'string'],
      [{ Image: 'busybox', Env: ['A=1', 2] }, 'Env', 'number 2'],
      [{ Image: 'busybox', HostConfig: { Memory: 'lots' } }, 'HostConfig.Memory', 'string'],
      [{ Image: 'busybox', HostConfig: { Memory: 1.5 } }, 'HostConfig.Memory', 'number 1.5'],
      [{ Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 8080 }] } } }, 'HostConfig.PortBindings.HostPort', 'number 8080'],
      [{ Image: 'busybox', HostConfig: { RestartPolicy: 'always' } }, 'HostConfig.RestartPolicy', 'string'],
      [{ Image: 'busybox', Labels: { a: 1 } }, 'Labels', 'number 1'],
      [{ Image: 'busybox', Tty: 'yes' }, 'Tty', 'string'],
      [{ Image: 7 }, 'Image', 'number 7'],
      [{ Image: 'busybox', NetworkingConfig: { EndpointsConfig: { n: { Aliases: 'a' } } } }, 'NetworkingConfig.EndpointsConfig.Aliases', 'string'],
    ];
    for (const [body, field, what] of cases) {
      const r = await raw(s.socket, post('/containers/create', JSON.stringify(body)));
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
      const m = JSON.parse(r.body).message as string;
      assert.match(m, new RegExp(`^invalid JSON: json: cannot unmarshal ${what} into Go struct field ${field.replace(/\./g, '\\.')} of type `), m);
    }
    const notObject = await raw(s.socket, post('/containers/create', '[1,2]'));
    assert.equal(notObject.status, 400);
    assert.match(JSON.parse(notObject.body).message, /cannot unmarshal array/);
    const nul = await raw(s.socket, post('/containers/create', 'null'));
    assert.equal(nul.status, 400);
    assert.deepEqual(JSON.parse(nul.body), { message: 'config cannot be empty in order to create a container' });
    // a well-typed body with nulls (Go's zero values) and unknown fields is fine
    const ok = await s.http('POST', '/containers/create?name=fine', { Image: 'busybox', Cmd: ['true'], Env: null, Entrypoint: null, HostConfig: { Memory: 0, Init: null }, Unknown: { x: 1 } });
    assert.equal(ok.status, 201, ok.body);
    const list = JSON.parse((await s.http('GET', '/containers/json?all=1')).body) as Array<{ Names: string[] }>;
    assert.deepEqual(list.map((c) => c.Names[0]), ['/fine'], 'no container made by a refused body');

    const sleeper = await s.docker(['run', '-d', 'busybox', 'sleep', '30']);
    assert.equal(sleeper.code, 0, sleeper.err);
    const badExec = await raw(s.socket, post(`/containers/${sleeper.out.trim()}/exec`, JSON.stringify({ Cmd: 'ls' })));
    assert.equal(badExec.status, 400);
    assert.match(JSON.parse(badExec.body).message, /Go struct field Cmd of type \[\]string/);

    // per version: images carry VirtualSize below 1.44 only
    const old = JSON.parse((await s.http('GET', '/v1.43/images/json')).body) as Array<{ Size: number; VirtualSize?: number }>;
    assert.ok(old.length > 0 && old.every((i) => i.VirtualSize === i.Size && i.Size > 0));
    const cur = JSON.parse((await s.http('GET', '/v1.44/images/json')).body) as Array<Record<string, unknown>>;
    assert.ok(cur.every((i) => !('VirtualSize' in i)));
    const oldInspect = JSON.parse((await s.http('GET', '/v1.41/images/busybox/json')).body);
    assert.equal(oldInspect.VirtualSize, oldInspect.Size);
    assert.equal('VirtualSize' in JSON.parse((await s.http('GET', '/images/busybox/json')).body), false);

    // the server is alive and well after all that
    assert.equal(s.server.exitCode, null);
    const run = await s.docker(['run', '--rm', 'busybox', 'echo', 'still here']);
    assert.equal(run.out, 'still here\n', run.err);
    assert.equal((await s.docker(['rm', '-f', sleeper.out.trim()])).code, 0);
    assert.doesNotMatch(s.serverErr(), /internal error/);
  });
});

test('absurd sizes: a 100 MB body is refused with 413 at once, announced or chunked, without being buffered', { skip, timeout: 120_000 }, async (t) => {
  await withServer(async (s) => {
    const pid = s.server.pid!;
    const rss0 = rssOf(pid);
    const mb = Buffer.alloc(1 << 20, 'a');
    const announced = await raw(s.socket,
      'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"Image":"busybox","Env":["', '', {
        feed: (c) => { let n = 0; const more = () => { while (n++ < 100 && c.writable) if (!c.write(mb)) { c.once('drain', more); return; } }; more(); },
      });
    assert.equal(announced.status, 413, announced.body);
    assert.match(JSON.parse(announced.body).message, /^request body too large: 104857600 bytes, the limit is \d+/);
    assert.match(announced.headers, /\r\nConnection: close\r\n/i);
    assert.ok(announced.ms < 3000, `413 after ${announced.ms} ms`);

    let sent = 0;
    const chunked = await raw(s.socket,
      'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n', '', {
        feed: (c) => {
          const chunk = Buffer.concat([Buffer.from(`${mb.length.toString(16)}\r\n`), mb, Buffer.from('\r\n')]);
          const more = () => { while (sent < 100 && c.writable) { sent++; if (!c.write(chunk)) { c.once('drain', more); return; } } };
          more();
        },
      });
    assert.equal(chunked.status, 413, chunked.body);
    assert.match(JSON.parse(chunked.body).message, /^request body too large: more than \d+ bytes/);
    assert.ok(chunked.ms < 5000, `413 after ${chunked.ms} ms`);
    assert.ok(sent < 60, `the server read ${sent} MiB before answering`);
    const grown = rssOf(pid) - rss0;
    t.diagnostic(`413 after ${announced.ms} ms (announced), ${chunked.ms} ms after ${sent} MiB (chunked); server RSS +${grown >> 20} MiB`);
    assert.ok(grown < 80 << 20, `server RSS grew by ${grown >> 20} MiB`);
    assert.equal((await s.http('GET', '/_ping')).status, 200);
  });
});

test('a client that never finishes its headers or body is timed out; hijacked and streamed connections are not', { skip, timeout: 120_000 }, async () => {
  const e = await busyboxEngine();
  const sock = join(e.runRoot, 'timeouts.sock');
  const srv = await serve(e.core, [{ kind: 'unix', path: sock }], { body: { timeoutMs: 800 }, headersTimeoutMs: 1500 });
  try {
    const slowBody = await raw(sock, 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Image":');
    assert.equal(slowBody.status, 408, slowBody.body);
    assert.match(JSON.parse(slowBody.body).message, /^timed out reading the request body/);
    assert.ok(slowBody.ms >= 700 && slowBody.ms < 3000, `408 after ${slowBody.ms} ms`);

    const slowHeaders = await raw(sock, 'GET /_ping HTTP/1.1\r\nHost: x\r\n');
    assert.equal(slowHeaders.status, 408, slowHeaders.body);
    assert.ok(slowHeaders.ms >= 1400 && slowHeaders.ms < 4000, `headers timed out after ${slowHeaders.ms} ms`);
    const idle = await raw(sock, '');
    assert.ok((idle.closed || idle.status === 408) && idle.ms < 4000, `an idle connection lasted ${idle.ms} ms`);

    // a container that speaks after both timeouts: its attach and its log stream last
    const created = await httpOn(sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 3; echo late'] });
    assert.equal(created.status, 201, created.body);
    const id = JSON.parse(created.body).Id as string;
    assert.equal((await httpOn(sock, 'POST', `/containers/${id}/start`)).status, 204);
    const logs = raw(sock, `GET /containers/${id}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
    const attach = raw(sock, `POST /containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`);
    const [l, a] = await Promise.all([logs, attach]);
    assert.equal(a.status, 101);
    assert.ok(a.closed && a.ms > 2000, `attach ended after ${a.ms} ms`);
    assert.ok(a.body.endsWith('late\n'), JSON.stringify(a.body));
    assert.equal(l.status, 200);
    assert.match(l.body, /late\n/);
  } finally {
    await srv.close();
    await e.cleanup();
  }
});

test('1,000 idle connections: a new client is answered promptly and memory stays bounded', { skip, timeout: 120_000 }, async (t) => {
  await withServer(async (s) => {
    const pid = s.server.pid!;
    await s.http('GET', '/_ping');
    const rss0 = rssOf(pid);
    const conns: Socket[] = [];
    try {
      for (let i = 0; i < 1000; i++) {
        const c = createConnection(s.socket);
        c.on('error', () => undefined);
        // half say nothing, half start a request and stop mid-headers
        await new Promise<void>((r) => c.once('connect', () => r()));
        if (i % 2) c.write(`GET /containers/json HTTP/1.1\r\nHost: x\r\nX-Slow-${i}: `);
        conns.push(c);
      }
      await sleep(300);
      const t0 = Date.now();
      const ping = await s.http('GET', '/_ping');
      const pingMs = Date.now() - t0;
      assert.equal(ping.status, 200);
      assert.ok(pingMs < 1000, `ping took ${pingMs} ms`);
      const ps = await s.docker(['ps', '-a', '--format', '{{.ID}}'], { timeoutMs: 10_000 });
      assert.equal(ps.code, 0, ps.err);
      const grown = rssOf(pid) - rss0;
      t.diagnostic(`1,000 connections: server RSS ${rss0 >> 20} -> ${rssOf(pid) >> 20} MiB, ping ${pingMs} ms`);
      assert.ok(grown < 64 << 20, `server RSS grew by ${grown >> 20} MiB for 1,000 connections`);
      assert.equal(conns.filter((c) => c.destroyed).length, 0, 'connections are kept until their headers timeout');
    } finally {
      for (const c of conns) c.destroy();
    }
    await sleep(200);
    assert.equal((await s.http('GET', '/_ping')).status, 200);
  });
});
