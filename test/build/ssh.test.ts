/**
 * `--ssh ID=SOCKET` with `RUN --mount=type=ssh`: the agent's socket is bound into the RUN at
 * /run/buildkit/ssh_agent.0 (or the target given), SSH_AUTH_SOCK points at it, nothing of it stays
 * in the image; a required agent that was not forwarded is a clear error; a key file is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from '../cli/run-util.js';

const why = cannotRun();

test('berth build --ssh: an agent socket forwarded into RUN --mount=type=ssh', { skip: why || false, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bssh-'));
  const sock = join(dir, 'agent.sock');
  const server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    await withCli(async (c) => {
      await t.test('the socket is there, SSH_AUTH_SOCK names it, the image keeps nothing of it', async () => {
        writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nRUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /def\n'
          + 'RUN --mount=type=ssh,id=other,target=/agent test -S /agent && echo "$SSH_AUTH_SOCK" > /other\n');
        await c.ok(['build', '-q', '--ssh', `default=${sock}`, '--ssh', `other=${sock}`, '-t', 'ssh:1', dir]);
        assert.equal(await c.ok(['run', '--rm', 'ssh:1', 'cat', '/def', '/other']), '/run/buildkit/ssh_agent.0\n/agent');
        assert.equal(await c.ok(['run', '--rm', 'ssh:1', 'sh', '-c', 'ls -d /run/buildkit /agent 2>&1; true']), 'ls: /run/buildkit: No such file or directory\nls: /agent: No such file or directory');
      });
      await t.test('required and not forwarded: an error naming the id; a key file refused', async () => {
        writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nRUN --mount=type=ssh,id=missing,required=true true\n');
        const r = await c.berth(['build', '-q', dir]);
        assert.notEqual(r.code, 0);
        assert.match(r.err, /no SSH key "missing" forwarded/);
        writeFileSync(join(dir, 'key'), 'not a socket');
        const k = await c.berth(['build', '-q', '--ssh', `default=${join(dir, 'key')}`, dir]);
        assert.notEqual(k.code, 0, k.err);
        assert.match(k.err, /is not an SSH agent socket/);
      });
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
