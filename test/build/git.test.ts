/**
 * ADD of a git repository, served by `git daemon` on 127.0.0.1 (nothing leaves the machine): the
 * tree of the default branch, a tag with a subdirectory (`#ref:subdir`), --keep-git-dir, the
 * cache (same content hits), and a missing repository as a clear error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from '../cli/run-util.js';

const why = cannotRun() || (() => { try { execFileSync('git', ['--version']); return false; } catch { return 'git is not installed'; } })();

const canConnect = (port: number) => new Promise<boolean>((r) => { const s = connect(port, '127.0.0.1'); s.on('connect', () => { s.end(); r(true); }); s.on('error', () => r(false)); });

test('berth build: ADD of a git repository', { skip: why || false, timeout: 120_000 }, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'berth-bgit-'));
  const repo = join(base, 'repo.git');
  const g = (...a: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { stdio: 'pipe' });
  mkdirSync(join(repo, 'sub'), { recursive: true });
  g('init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'top.txt'), 'v1\n');
  writeFileSync(join(repo, 'sub', 'inner.txt'), 'inner\n');
  g('add', '.'); g('commit', '-qm', 'one'); g('tag', 'v1');
  writeFileSync(join(repo, 'top.txt'), 'v2\n');
  g('commit', '-qam', 'two');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const daemon = spawn('git', ['daemon', '--reuseaddr', `--base-path=${base}`, '--export-all', '--listen=127.0.0.1', `--port=${port}`, base], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 50));
    const url = `git://127.0.0.1:${port}/repo.git`;
    const ctx = join(base, 'ctx');
    mkdirSync(ctx);
    await withCli(async (c) => {
      await t.test('the default branch, a tag with a subdirectory, --keep-git-dir', async () => {
        writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox:latest\nADD ${url} /src\nADD ${url}#v1:sub /sub/\nADD --keep-git-dir=true ${url}#v1 /withgit\n`);
        await c.ok(['build', '-q', '-t', 'git:1', ctx]);
        assert.equal(await c.ok(['run', '--rm', 'git:1', 'cat', '/src/top.txt', '/src/sub/inner.txt', '/sub/inner.txt', '/withgit/top.txt']), 'v2\ninner\ninner\nv1');
        assert.equal(await c.ok(['run', '--rm', 'git:1', 'sh', '-c', 'test -d /src/.git || echo no-git; test -d /withgit/.git && echo git']), 'no-git\ngit');
        const again = await c.berth(['build', '--progress=plain', '-t', 'git:1', ctx]);
        assert.equal((again.err.match(/^#\d+ CACHED$/gm) ?? []).length, 3, again.err);
        assert.deepEqual(c.leftovers('build-git-'), []);
      });
      await t.test('a missing repository: the step fails naming it', async () => {
        writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox:latest\nADD git://127.0.0.1:${port}/absent.git /x\n`);
        const r = await c.berth(['build', '-q', ctx]);
        assert.notEqual(r.code, 0);
        assert.match(r.err, /Dockerfile:2: ADD: failed to fetch git:\/\/127\.0\.0\.1:\d+\/absent\.git/);
      });
    });
  } finally {
    daemon.kill();
    rmSync(base, { recursive: true, force: true });
  }
});
