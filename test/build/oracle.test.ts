/**
 * More corpus cases against `DOCKER_BUILDKIT=0 docker build` (dockerd 20.10): COPY into a
 * directory reached through a symlink, COPY --from a stage whose files were deleted (whiteouts, an
 * opaque directory), hard links of the context, ADD of an http URL (served on 127.0.0.1). The
 * layers docker made are recorded below; with BERTH_TEST_DOCKER_HOST (a dockerd on its own socket)
 * the test loads busybox there from `berth save` and compares live too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from '../cli/run-util.js';
import { FRONT } from '../helpers/worker.js';
import { savedLayers } from './util.js';

const why = cannotRun();

const dockerfile = (url: string) => `FROM busybox:latest AS s
RUN mkdir -p /d /e && echo a > /d/a && echo b > /d/b && echo old > /e/old
RUN rm /d/a && rm -rf /e && mkdir /e && echo n > /e/n
FROM busybox:latest
RUN mkdir -p /real/run /v && ln -s /real/run /v/run
COPY f /v/run/
COPY f /v/run/sub/g
COPY --from=s /d /d2
COPY --from=s /e /e2
COPY hl/ /h/
ADD ${url}/dl/file.txt /u/
`;

/** What dockerd 20.10's classic builder made of it (the layers after busybox's, mtimes aside). */
const ORACLE: string[][] = [
  ['real directory 755 0:0 0 -', 'real/run directory 755 0:0 0 -', 'v directory 755 0:0 0 -', 'v/run symlink 777 0:0 0 - -> /real/run'],
  ['real directory 755 0:0 0 -', 'real/run directory 755 0:0 0 -', 'real/run/f file 644 0:0 2 092fcfbbcfca'],
  ['real directory 755 0:0 0 -', 'real/run directory 755 0:0 0 -', 'real/run/sub directory 755 0:0 0 -', 'real/run/sub/g file 644 0:0 2 092fcfbbcfca'],
  ['d2 directory 755 0:0 0 -', 'd2/b file 644 0:0 2 0263829989b6'],
  ['e2 directory 755 0:0 0 -', 'e2/n file 644 0:0 2 a4fb621495a0'],
  ['h directory 755 0:0 0 -', 'h/one file 644 0:0 7 922e77203577', 'h/two link 644 0:0 0 - -> h/one'],
  ['u directory 755 0:0 0 -', 'u/file.txt file 600 0:0 7 c81662749eb3'],
];

test('berth build: more cases against docker build', { skip: why || false, timeout: 180_000 }, async () => {
  const server = createServer((req, res) => {
    if (req.url === '/dl/file.txt') { res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }); res.end('remote\n'); return; }
    res.writeHead(404); res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'berth-borc-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), dockerfile(url));
    writeFileSync(join(dir, 'f'), 'f\n');
    mkdirSync(join(dir, 'hl'));
    writeFileSync(join(dir, 'hl', 'one'), 'linked\n');
    linkSync(join(dir, 'hl', 'one'), join(dir, 'hl', 'two'));
    await withCli(async (c) => {
      await c.ok(['build', '-q', '-t', 'orc:1', dir]);
      const save = (ref: string) => execFileSync(FRONT, ['save', ref], { env: { ...c.env, BERTH_NO_WORKER: '1' }, maxBuffer: 1 << 28 });
      const ours = (await savedLayers(save('orc:1'))).slice(1);
      const dockerHost = process.env.BERTH_TEST_DOCKER_HOST;
      if (dockerHost) {
        const env = { ...process.env, DOCKER_HOST: dockerHost, DOCKER_BUILDKIT: '0' };
        execFileSync('docker', ['load'], { env, input: save('busybox:latest'), stdio: ['pipe', 'ignore', 'inherit'] });
        // async: this process serves the URL docker's daemon fetches
        await new Promise<void>((res, rej) => execFile('docker', ['build', '-q', '-t', 'berth-oracle:more', dir], { env }, (e) => (e ? rej(e) : res())));
        const theirs = (await savedLayers(execFileSync('docker', ['save', 'berth-oracle:more'], { env, maxBuffer: 1 << 28 }))).slice(1);
        if (process.env.BERTH_TEST_PRINT_ORACLE) process.stderr.write(`ORACLE ${JSON.stringify(theirs)}\n`);
        assert.deepEqual(ours, theirs);
      }
      if (ORACLE.length) assert.deepEqual(ours, ORACLE);
      else assert.fail(`no oracle recorded; ours: ${JSON.stringify(ours)}`);
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
