/** `berth serve`: attach without hijack (dockerode), over a websocket, two clients at once, and a server killed mid-attach. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { demux, rawExchange, sleep } from './serve-containers-util.js';
import { cannotServe, withServer } from './util.js';

const skip = cannotServe();

test('dockerode: attach without hijack before start (raw and multiplexed), demuxStream, wait', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const docker = new Docker({ socketPath: s.socket });
    // multiplexed (no tty): stdout and stderr apart
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], AttachStdout: true, AttachStderr: true });
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    const out = new PassThrough();
    const err = new PassThrough();
    let o = '';
    let e = '';
    out.on('data', (d: Buffer) => { o += d; });
    err.on('data', (d: Buffer) => { e += d; });
    docker.modem.demuxStream(stream, out, err);
    const ended = new Promise((r) => stream.on('end', r));
    await c.start();
    assert.deepEqual(await c.wait(), { StatusCode: 3 });
    await ended;
    assert.equal(o, 'out\n');
    assert.equal(e, 'err\n');

    // a tty: raw bytes on the plain HTTP response
    const t = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo tty-out'], Tty: true });
    const raw = await t.attach({ stream: true, stdout: true, stderr: true });
    let text = '';
    raw.on('data', (d: Buffer) => { text += d; });
    const rawEnded = new Promise((r) => raw.on('end', r));
    await t.start();
    await rawEnded;
    assert.equal(text, 'tty-out\r\n');

    // the wire: 200 (not 101) and the stream's content type
    const d = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'sleep 0.5; echo late'] });
    const wire = rawExchange(s.socket, `POST /v1.47/containers/${d.id}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
    await sleep(300);
    await d.start();
    const got = (await wire).toString('latin1');
    assert.match(got, /^HTTP\/1\.1 200 OK\r\nContent-Type: application\/vnd\.docker\.multiplexed-stream\r\n/);
    const body = Buffer.from(got.slice(got.indexOf('\r\n\r\n') + 4), 'latin1');
    assert.deepEqual(demux(body), [[1, 'late\n']]);

    // logs=1&stream=0 on an exited container (docker-py's attach(logs=True)): the log, then the end
    await c.wait();
    const replay = (await rawExchange(s.socket, `POST /v1.47/containers/${c.id}/attach?logs=1&stream=0&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`)).toString('latin1');
    assert.match(replay, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    assert.deepEqual(demux(Buffer.from(replay.slice(replay.indexOf('\r\n\r\n') + 4), 'latin1')), [[1, 'out\n'], [2, 'err\n']]);
  });
});

/** A websocket client: the handshake, then masked frames out and the server's frames in. */
function wsAttach(socket: string, path: string, input?: string): Promise<{ head: string; data: string; closed: boolean }> {
  const key = randomBytes(16).toString('base64');
  let head = '';
  let data = Buffer.alloc(0);
  let closed = false;
  let sent = false;
  const mask = (payload: Buffer, opcode: number) => {
    const m = randomBytes(4);
    const body = Buffer.from(payload.map((b, i) => b ^ m[i & 3]!));
    return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | body.length]), m, body]);
  };
  return rawExchange(socket, `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`, {
    onData: (all, write) => {
      const i = all.indexOf('\r\n\r\n');
      if (i < 0) return;
      head = all.subarray(0, i).toString();
      if (input !== undefined && !sent) { sent = true; write(mask(Buffer.from(input), 1)); }
    },
  }).then((all) => {
    let off = all.indexOf('\r\n\r\n') + 4;
    while (off + 2 <= all.length) {
      const op = all[off]! & 0x0f;
      let len = all[off + 1]! & 0x7f;
      let h = 2;
      if (len === 126) { len = all.readUInt16BE(off + 2); h = 4; }
      if (op === 2 || op === 1) data = Buffer.concat([data, all.subarray(off + h, off + h + len)]);
      if (op === 8) closed = true;
      off += h + len;
    }
    return { head, data: data.toString(), closed };
  });
}

test('attach over a websocket: stdin in, raw output out, closed at the exit', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const id = JSON.parse((await s.http('POST', '/containers/create?name=wsc', { Image: 'busybox', Cmd: ['sh', '-c', 'read line; echo "got $line"; echo bye >&2'], OpenStdin: true, StdinOnce: false })).body).Id;
    assert.equal((await s.http('POST', `/containers/${id}/start`)).status, 204);
    const r = await wsAttach(s.socket, `/v1.47/containers/wsc/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`, 'hello\n');
    assert.match(r.head, /^HTTP\/1\.1 101 Switching Protocols/);
    assert.match(r.head, /Sec-WebSocket-Accept: /);
    assert.equal(r.data, 'got hello\nbye\n', 'raw: no stdcopy headers');
    assert.ok(r.closed, 'a close frame at the exit');
    assert.equal((await s.docker(['wait', 'wsc'])).out, '0\n');
    const missing = await rawExchange(s.socket, 'GET /containers/nosuch/attach/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: eA==\r\n\r\n');
    assert.match(missing.toString(), /^HTTP\/1\.1 404 /);
  });
});

test('two clients attached to one container both see its output', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    // before start: `docker start -a` beside a second attach
    assert.equal((await s.docker(['create', '--name', 'pair', 'busybox', 'sh', '-c', 'sleep 1; echo one; sleep 0.5; echo two'])).code, 0);
    const id = (await s.docker(['inspect', '-f', '{{.Id}}', 'pair'])).out.trim();
    const second = rawExchange(s.socket, `POST /containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
    await sleep(200);
    const first = await s.docker(['start', '-a', 'pair']);
    assert.equal(first.code, 0, first.err);
    assert.equal(first.out, 'one\ntwo\n');
    const raw = (await second);
    assert.deepEqual(demux(raw.subarray(raw.indexOf('\r\n\r\n') + 4)), [[1, 'one\n'], [1, 'two\n']]);

    // running: two `docker attach` clients
    assert.equal((await s.docker(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'sleep 1.5; echo tick; sleep 0.5; exit 2'])).code, 0);
    const [a, b] = await Promise.all([s.docker(['attach', '--no-stdin', 'ticker']), s.docker(['attach', '--no-stdin', 'ticker'])]);
    assert.equal(a.out, 'tick\n', a.err);
    assert.equal(b.out, 'tick\n', b.err);
    assert.equal(a.code, 2);
    assert.equal(b.code, 2);
  });
});

test('kill -9 of the server mid-attach loses no container, exit code or log', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const run = s.docker(['run', '--name', 'steady', 'busybox', 'sh', '-c', 'echo before; sleep 2; echo after; exit 3']);
    await sleep(1200);
    s.server.kill('SIGKILL');
    await new Promise((r) => s.server.once('exit', r));
    const cut = await run;
    assert.notEqual(cut.code, 0);
    await s.restart();
    const w = await s.docker(['wait', 'steady']);
    assert.equal(w.out, '3\n', w.err);
    assert.equal((await s.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'steady'])).out, 'exited 3\n');
    const logs = await s.docker(['logs', 'steady']);
    assert.equal(logs.out, 'before\nafter\n');
    assert.equal((await s.docker(['rm', 'steady'])).code, 0);
  });
});
