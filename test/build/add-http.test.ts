/**
 * ADD of an http(s) URL is not downloaded again on each build: the body and its validators are
 * kept, the next request is conditional (If-None-Match / If-Modified-Since) and a 304 reuses the
 * kept body; the step's key stays the content, so a 304 hits and a new body misses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli, type Cli } from '../cli/run-util.js';

const why = cannotRun();

test('berth build: ADD of a URL makes a conditional request', { skip: why || false, timeout: 120_000 }, async () => {
  let body = 'version one\n';
  let etag = '"v1"';
  const seen: Array<{ status: number; inm?: string; ims?: string }> = [];
  const server = createServer((req, res) => {
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    const status = inm === etag ? 304 : 200;
    seen.push({ status, ...(inm ? { inm } : {}), ...(ims ? { ims } : {}) });
    if (status === 304) { res.writeHead(304, { ETag: etag }); res.end(); return; }
    res.writeHead(200, { ETag: etag, 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.txt`;
  const dir = mkdtempSync(join(tmpdir(), 'berth-bhttp-'));
  const build = async (c: Cli) => {
    const r = await c.berth(['build', '--progress=plain', '-t', 'addhttp:1', dir]);
    assert.equal(r.code, 0, r.err);
    return (r.err.match(/^#\d+ CACHED$/gm) ?? []).length;
  };
  try {
    writeFileSync(join(dir, 'Dockerfile'), `FROM busybox:latest\nADD ${url} /f.txt\n`);
    await withCli(async (c) => {
      assert.equal(await build(c), 0, 'cold');
      assert.deepEqual(seen.map((s) => s.status), [200]);
      assert.equal(await build(c), 1, 'unchanged: the ADD hits');
      assert.equal(seen.length, 2);
      assert.deepEqual(seen[1], { status: 304, inm: '"v1"', ims: 'Wed, 21 Oct 2015 07:28:00 GMT' }, 'a conditional request, answered 304');
      assert.equal(await c.ok(['run', '--rm', 'addhttp:1', 'cat', '/f.txt']), 'version one');

      body = 'version two\n';
      etag = '"v2"';
      assert.equal(await build(c), 0, 'a new body: the ADD misses');
      assert.equal(seen.at(-1)!.status, 200);
      assert.equal(await c.ok(['run', '--rm', 'addhttp:1', 'cat', '/f.txt']), 'version two');
      assert.equal(await build(c), 1, 'unchanged again');
      assert.equal(seen.at(-1)!.status, 304);
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
