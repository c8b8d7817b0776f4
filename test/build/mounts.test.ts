/**
 * `RUN --mount` through the CLI on a busybox engine: cache mounts kept between builds (by id,
 * pruned by `builder prune`), binds from the context and from a stage (rw writes discarded),
 * tmpfs, secrets from `--secret` (never in a layer nor the history), ssh refused, mount points
 * absent from the image left out of the layer, `--security=insecure` only with `--allow`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from '../cli/run-util.js';
import { FRONT } from '../helpers/worker.js';
import { savedLayers } from './util.js';

const why = cannotRun();

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bmnt-'));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

test('berth build: RUN --mount', { skip: why || false, timeout: 120_000 }, async (t) => {
  await withCli(async (c) => {
    const dirs: string[] = [];
    const ctx = (files: Record<string, string>) => { const d = context(files); dirs.push(d); return d; };
    const layersOf = async (ref: string) => (await savedLayers(execFileSync(FRONT, ['save', ref], { env: { ...c.env, BERTH_NO_WORKER: '1' }, maxBuffer: 1 << 28 }))).slice(1);
    try {
      await t.test('type=cache: kept between builds by id, out of the image, pruned', async () => {
        const df = 'FROM busybox:latest\nRUN --mount=type=cache,target=/var/cache/k,id=k echo x >> /var/cache/k/log && wc -l < /var/cache/k/log > /n\n'
          + 'RUN --mount=type=cache,target=/other,sharing=locked,mode=0700,uid=5 stat -c "%a %u" /other > /o\n';
        const dir = ctx({ Dockerfile: df });
        await c.ok(['build', '-q', '--no-cache', '-t', 'cm:1', dir]);
        assert.equal((await c.ok(['run', '--rm', 'cm:1', 'cat', '/n'])).trim(), '1');
        assert.equal(await c.ok(['run', '--rm', 'cm:1', 'cat', '/o']), '700 5');
        await c.ok(['build', '-q', '--no-cache', '-t', 'cm:2', dir]);
        assert.equal((await c.ok(['run', '--rm', 'cm:2', 'cat', '/n'])).trim(), '2', 'the cache kept what the first build wrote');
        // the mount points were not in busybox: not in the layers either
        const layers = await layersOf('cm:2');
        assert.deepEqual(layers.map((l) => l.map((e) => e.split(' ')[0])), [['n'], ['o']]);
        assert.equal(await c.ok(['run', '--rm', 'cm:2', 'sh', '-c', 'ls /var/cache; test -e /other || echo none']), 'none');
        assert.match(await c.ok(['system', 'df']), /^Build Cache\s+2\s+0\s/m, 'the two cache mounts in system df');
        const verbose = await c.ok(['system', 'df', '-v']);
        assert.match(verbose, /exec\.cachemount/);
        const pruned = await c.ok(['builder', 'prune', '-f']);
        assert.match(pruned, /Deleted build cache objects: [1-9]/);
        assert.deepEqual(readdirSync(join(c.root, 'builder', 'mounts', 'cache')), []);
        await c.ok(['build', '-q', '--no-cache', '-t', 'cm:3', dir]);
        assert.equal((await c.ok(['run', '--rm', 'cm:3', 'cat', '/n'])).trim(), '1', 'pruned: a fresh cache');
      });

      await t.test('sharing=locked: two builds at once take turns', async () => {
        const df = (n: string) => `FROM busybox:latest\nRUN --mount=type=cache,id=lk,target=/c,sharing=locked echo start-${n} >> /c/log && sleep 1 && echo end-${n} >> /c/log\n`;
        const [a, b] = await Promise.all([c.berth(['build', '-q', '--no-cache', '-'], { input: df('a') }), c.berth(['build', '-q', '--no-cache', '-'], { input: df('b') })]);
        assert.equal(a.code, 0, a.err);
        assert.equal(b.code, 0, b.err);
        const log = (await c.ok(['build', '-q', '--no-cache', '-t', 'lk:1', '-'], { input: 'FROM busybox:latest\nRUN --mount=type=cache,id=lk,target=/c cp /c/log /log\n' })) && await c.ok(['run', '--rm', 'lk:1', 'cat', '/log']);
        const lines = log.split('\n');
        assert.equal(lines.length, 4, log);
        assert.equal(lines[0]!.slice(6), lines[1]!.slice(4), `one RUN at a time: ${log}`);
        assert.equal(lines[2]!.slice(6), lines[3]!.slice(4), `one RUN at a time: ${log}`);
      });

      await t.test('type=bind: from the context and from a stage, rw writes discarded, keyed by content', async () => {
        const dir = ctx({
          Dockerfile: 'FROM busybox:latest AS s\nRUN echo staged > /st\nFROM busybox:latest\n'
            + 'RUN --mount=target=/src cat /src/f > /out\n'
            + 'RUN --mount=type=bind,source=sub,target=/sub,rw echo more >> /sub/g && cat /sub/g > /out2\n'
            + 'RUN --mount=from=s,source=/st,target=/x/st cat /x/st > /out3\n'
            + 'RUN --mount=target=/src sh -c "touch /src/new" || echo read-only > /out4\n',
          f: 'from context\n', 'sub/g': 'g\n',
        });
        await c.ok(['build', '-q', '-t', 'bm:1', dir]);
        assert.equal(await c.ok(['run', '--rm', 'bm:1', 'cat', '/out', '/out2', '/out3', '/out4']), 'from context\ng\nmore\nstaged\nread-only');
        assert.equal(existsSync(join(dir, 'new')), false);
        assert.equal((await c.berth(['run', '--rm', 'bm:1', 'ls', '/src', '/sub', '/x'])).code, 1, 'no mount point left in the image');
        writeFileSync(join(dir, 'f'), 'changed\n');
        const r = await c.berth(['build', '--progress=plain', '-t', 'bm:2', dir]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.err, /RUN --mount=target=\/src cat[^\n]*\n#\d+ DONE/, 'the bound content changed: the step ran again');
        assert.equal(await c.ok(['run', '--rm', 'bm:2', 'cat', '/out']), 'changed');
      });

      await t.test('type=tmpfs and type=secret (file and env), never in the image', async () => {
        const secretFile = join(ctx({}), 'tok');
        writeFileSync(secretFile, 's3cret-value');
        const dir = ctx({
          Dockerfile: 'FROM busybox:latest\n'
            + 'RUN --mount=type=tmpfs,target=/t echo hi > /t/x && grep -q " /t tmpfs" /proc/mounts && echo ok > /tm\n'
            + 'RUN --mount=type=secret,id=tok md5sum < /run/secrets/tok | cut -c1-8 > /sum && stat -c %a /run/secrets/tok > /perm\n'
            + 'RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0444 --mount=type=secret,id=ev,env=EV echo "${#EV}" > /evlen && cat /etc/tok | wc -c > /len\n'
            + 'RUN --mount=type=secret,id=missing,required=true true\n',
        });
        const r = await c.berth(['build', '-t', 'sm:1', '--secret', `id=tok,src=${secretFile}`, '--secret', 'id=ev,env=BERTH_T_SECRET', dir], { env: { BERTH_T_SECRET: 'from-env' } });
        assert.equal(r.code, 1);
        assert.match(r.err, /Dockerfile:5: RUN: secret missing: not found/);
        writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\n'
          + 'RUN --mount=type=tmpfs,target=/t echo hi > /t/x && grep -q " /t tmpfs" /proc/mounts && echo ok > /tm\n'
          + 'RUN --mount=type=secret,id=tok md5sum < /run/secrets/tok | cut -c1-8 > /sum && stat -c %a /run/secrets/tok > /perm\n'
          + 'RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0444 --mount=type=secret,id=ev,env=EV echo "${#EV}" > /evlen && cat /etc/tok | wc -c > /len\n');
        await c.ok(['build', '-q', '-t', 'sm:1', '--secret', `id=tok,src=${secretFile}`, '--secret', 'id=ev,env=BERTH_T_SECRET', dir], { env: { BERTH_T_SECRET: 'from-env' } });
        assert.equal(await c.ok(['run', '--rm', 'sm:1', 'sh', '-c', 'cat /tm /perm /len; ls /t /run/secrets /etc/tok 2>&1 | wc -l']), 'ok\n400\n12\n3');
        assert.equal(await c.ok(['run', '--rm', 'sm:1', 'cat', '/sum', '/evlen']), `${createHash('md5').update('s3cret-value').digest('hex').slice(0, 8)}\n8`);
        const archive = execFileSync(FRONT, ['save', 'sm:1'], { env: { ...c.env, BERTH_NO_WORKER: '1' }, maxBuffer: 1 << 28 });
        assert.equal(archive.includes('s3cret-value'), false, 'the secret is in no layer');
        assert.equal(archive.includes('from-env'), false);
        const layers = (await savedLayers(archive)).slice(1).flat().map((e) => e.split(' ')[0]);
        assert.deepEqual(layers.sort(), ['evlen', 'len', 'perm', 'sum', 'tm']);
        const hist = await c.ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'sm:1']);
        assert.equal(/s3cret|from-env/.test(hist), false);
      });

      await t.test('ssh, bad mounts, --security=insecure', async () => {
        const cases: Array<[string, RegExp]> = [
          ['RUN --mount=type=ssh,required=true true', /Dockerfile:2: RUN: no SSH key "default" forwarded from the client/],
          ['RUN --mount=type=nope,target=/x true', /Dockerfile:2: RUN: unsupported mount type "nope"/],
          ['RUN --mount=type=cache true', /mount destination must be specified/],
          ['RUN --mount=type=cache,target=/c,sharing=odd true', /unsupported sharing value "odd"/],
          ['RUN --mount=target=/m,source=absent true', /"\/absent": not found/],
          ['RUN --security=insecure true', /security.insecure is not allowed/],
        ];
        for (const [line, re] of cases) {
          const r = await c.berth(['build', '-q', '-'], { input: `FROM busybox:latest\n${line}\n` });
          assert.equal(r.code, 1, line);
          assert.match(r.err, re, line);
        }
        const ok = await c.berth(['build', '-q', '--allow', 'security.insecure', '-t', 'ins:1', '-'],
          { input: 'FROM busybox:latest\nRUN --security=insecure mkdir /m2 && mount -t tmpfs none /m2 && echo mounted > /m\n' });
        assert.equal(ok.code, 0, ok.err);
        assert.equal(await c.ok(['run', '--rm', 'ins:1', 'cat', '/m']), 'mounted');
        const denied = await c.berth(['build', '-q', '-'], { input: 'FROM busybox:latest\nRUN mkdir /m2 && mount -t tmpfs none /m2\n' });
        assert.equal(denied.code, 1, 'a sandboxed RUN cannot mount');
      });
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
