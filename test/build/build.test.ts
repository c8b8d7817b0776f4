/**
 * `berth build` end to end through the CLI on a busybox engine: the config and layer listings of a
 * classic Dockerfile against what `DOCKER_BUILDKIT=0 docker build` (dockerd 20.10) made of the same
 * file (recorded below; compared live too when BERTH_TEST_DOCKER_HOST names a dockerd with
 * busybox:latest loaded from `berth save`), the cache (what hits, what misses), multi-stage builds,
 * heredocs, ADD of a tar, contexts from stdin, and bad input leaving nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli, type Cli } from '../cli/run-util.js';
import { FRONT } from '../helpers/worker.js';
import { configView, savedLayers } from './util.js';

const why = cannotRun();

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bctx-'));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

const CLASSIC = `FROM busybox:latest
ARG V=1
ENV A=hello B="two words"
WORKDIR /app
COPY a.txt sub/ ./
COPY --chown=1:2 a.txt /other/x
RUN echo "v=$V $A" > /app/out && rm -f /bin/true
USER 12:34
CMD ["sh"]
ENTRYPOINT echo hi
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGKILL
HEALTHCHECK --interval=5s --retries=3 CMD true
ONBUILD RUN echo x
LABEL x=y "a b"=c
SHELL ["/bin/sh", "-ec"]
`;

/** What dockerd 20.10's classic builder made of CLASSIC (docker image inspect / save). */
const ORACLE_CONFIG = {
  User: '12:34', ExposedPorts: { '53/udp': {}, '80/tcp': {} },
  Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=hello', 'B=two words'],
  Entrypoint: ['/bin/sh', '-c', 'echo hi'], Cmd: ['sh'], Volumes: { '/data': {} }, WorkingDir: '/app', Labels: { 'a b': 'c', x: 'y' },
  StopSignal: 'SIGKILL', Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5000000000, Retries: 3 }, OnBuild: ['RUN echo x'], Shell: ['/bin/sh', '-ec'],
};
const ORACLE_LAYERS = [
  ['app directory 755 0:0 0 -'],
  ['app directory 755 0:0 0 -', 'app/a.txt file 644 0:0 4 17e682f060b5', 'app/b.txt file 644 0:0 4 3cf9a1a81f6b'],
  ['other directory 755 1:2 0 -', 'other/x file 644 1:2 4 17e682f060b5'],
  ['app directory 755 0:0 0 -', 'app/out file 644 0:0 10 b0031b18ad20', 'bin directory 755 0:0 0 -', 'bin/.wh.true file 600 0:0 0 e3b0c44298fc'],
];

const COPY_RULES = `FROM busybox:latest
ENV D=/dest T=target
WORKDIR rel
WORKDIR sub
COPY f*.txt $D/
COPY dir /copied
COPY dir/ /copied2/
COPY f1.txt /file-no-slash
COPY f1.txt /etc
COPY other /o/
COPY lnk /l1
COPY . /all/
ADD arch.tgz /x/
ADD f1.txt \${T}.txt
COPY --chown=nobody:nogroup f2.txt /owned
COPY --chown=7 f2.txt /owned2
`;

/** What dockerd 20.10's classic builder made of COPY_RULES (the layers after busybox's). */
const ORACLE_COPY_LAYERS: string[][] = [
  ['rel directory 755 0:0 0 -'],
  ['rel directory 755 0:0 0 -', 'rel/sub directory 755 0:0 0 -'],
  ['dest directory 755 0:0 0 -', 'dest/f1.txt file 644 0:0 2 4355a46b19d3', 'dest/f2.txt file 644 0:0 2 53c234e5e847'],
  ['copied directory 755 0:0 0 -', 'copied/d file 644 0:0 2 8d74beec1be9', 'copied/nested directory 700 0:0 0 -', 'copied/nested/n file 644 0:0 2 a4fb621495a0'],
  ['copied2 directory 755 0:0 0 -', 'copied2/d file 644 0:0 2 8d74beec1be9', 'copied2/nested directory 700 0:0 0 -', 'copied2/nested/n file 644 0:0 2 a4fb621495a0'],
  ['file-no-slash file 644 0:0 2 4355a46b19d3'],
  ['etc directory 755 0:0 0 -', 'etc/f1.txt file 644 0:0 2 4355a46b19d3'],
  ['o directory 755 0:0 0 -', 'o/keep.md file 644 0:0 5 f660a7996dea'],
  ['l1 file 644 0:0 2 4355a46b19d3'],
  ['all directory 755 0:0 0 -', 'all/.dockerignore file 644 0:0 26 b53b20c10448', 'all/Dockerfile file 644 0:0 312 74f2d219e56d', 'all/arch.tgz file 644 0:0 165 c5b3e87af378', 'all/dir directory 755 0:0 0 -', 'all/dir/d file 644 0:0 2 8d74beec1be9', 'all/dir/nested directory 700 0:0 0 -', 'all/dir/nested/n file 644 0:0 2 a4fb621495a0', 'all/f1.txt file 644 0:0 2 4355a46b19d3', 'all/f2.txt file 644 0:0 2 53c234e5e847', 'all/lnk symlink 777 0:0 0 - -> f1.txt', 'all/other directory 755 0:0 0 -', 'all/other/keep.md file 644 0:0 5 f660a7996dea'],
  ['x directory 755 0:0 0 -', 'x/d file 644 0:0 2 8d74beec1be9', 'x/nested directory 700 0:0 0 -', 'x/nested/n file 644 0:0 2 a4fb621495a0'],
  ['rel directory 755 0:0 0 -', 'rel/sub directory 755 0:0 0 -', 'rel/sub/target.txt file 644 0:0 2 4355a46b19d3'],
  ['owned file 644 65534:65534 2 53c234e5e847'],
  ['owned2 file 644 7:7 2 53c234e5e847'],
];

async function inspectConfig(c: Cli, ref: string): Promise<Record<string, unknown>> {
  return JSON.parse(await c.ok(['image', 'inspect', ref, '--format', '{{json .Config}}'])) as Record<string, unknown>;
}

const sortKeys = (o: unknown): unknown => (o && typeof o === 'object' && !Array.isArray(o)
  ? Object.fromEntries(Object.entries(o as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)])) : o);

test('berth build', { skip: why || false, timeout: 240_000 }, async (t) => {
  await withCli(async (c) => {
    const dirs: string[] = [];
    const ctx = (files: Record<string, string>) => { const d = context(files); dirs.push(d); return d; };
    try {
      await t.test('a classic Dockerfile: config and layers as docker build makes them', async () => {
        const dir = ctx({ Dockerfile: CLASSIC, 'a.txt': 'aaa\n', 'sub/b.txt': 'bbb\n' });
        const id = await c.ok(['build', '-q', '-t', 'classic:1', dir]);
        assert.match(id, /^sha256:[0-9a-f]{64}$/);
        assert.deepEqual(sortKeys(configView(await inspectConfig(c, 'classic:1'))), sortKeys(ORACLE_CONFIG));
        const layers = await savedLayers(execFileSync(FRONT, ['save', 'classic:1'], { env: { ...c.env, BERTH_NO_WORKER: '1' }, maxBuffer: 1 << 28 }));
        assert.deepEqual(layers.slice(1), ORACLE_LAYERS);
        const hist = await c.ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'classic:1']);
        assert.match(hist, /^RUN \|1 V=1 \/bin\/sh -c echo "v=\$V \$A" > \/app\/out && rm -f \/bin\/true # buildkit$/m);
        assert.match(hist, /^HEALTHCHECK &\{\["CMD-SHELL" "true"\] "5s" "0s" "0s" "0s" '\\x03'\}$/m);
        const dockerHost = process.env.BERTH_TEST_DOCKER_HOST;
        if (dockerHost) {
          const env = { ...process.env, DOCKER_HOST: dockerHost, DOCKER_BUILDKIT: '0' };
          execFileSync('docker', ['build', '-q', '-t', 'berth-oracle:classic', dir], { env, stdio: 'ignore' });
          const cfg = JSON.parse(execFileSync('docker', ['image', 'inspect', 'berth-oracle:classic', '--format', '{{json .Config}}'], { env }).toString()) as Record<string, unknown>;
          assert.deepEqual(sortKeys(configView(cfg)), sortKeys(configView(await inspectConfig(c, 'classic:1'))));
          const theirs = await savedLayers(execFileSync('docker', ['save', 'berth-oracle:classic'], { env, maxBuffer: 1 << 28 }));
          assert.deepEqual(layers.slice(1), theirs.slice(1));
        }
      });

      await t.test('COPY and ADD rules: config and layers as docker build makes them', async () => {
        const dir = ctx({
          Dockerfile: COPY_RULES, 'f1.txt': '1\n', 'f2.txt': '2\n', 'dir/nested/n': 'n\n', 'dir/d': 'd\n', 'other/keep.md': 'keep\n', 'other/drop.md': 'drop\n',
          '.dockerignore': 'other/*.md\n!other/keep.md\n',
        });
        execFileSync('sh', ['-c', 'chmod 755 . dir other && chmod 700 dir/nested && chmod 644 f1.txt f2.txt dir/d dir/nested/n other/*.md .dockerignore Dockerfile'
          + ' && ln -s f1.txt lnk && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C dir -cf - . | gzip -n > arch.tgz && chmod 644 arch.tgz'], { cwd: dir });
        await c.ok(['build', '-q', '-t', 'copyrules:1', dir]);
        const layers = await savedLayers(execFileSync(FRONT, ['save', 'copyrules:1'], { env: { ...c.env, BERTH_NO_WORKER: '1' }, maxBuffer: 1 << 28 }));
        const dockerHost = process.env.BERTH_TEST_DOCKER_HOST;
        if (dockerHost) {
          const env = { ...process.env, DOCKER_HOST: dockerHost, DOCKER_BUILDKIT: '0' };
          execFileSync('docker', ['build', '-q', '-t', 'berth-oracle:copyrules', dir], { env, stdio: 'ignore' });
          const theirs = await savedLayers(execFileSync('docker', ['save', 'berth-oracle:copyrules'], { env, maxBuffer: 1 << 28 }));
          assert.deepEqual(layers.slice(1), theirs.slice(1));
        }
        assert.deepEqual(layers.slice(1), ORACLE_COPY_LAYERS, JSON.stringify(layers.slice(1)));
      });

      await t.test('ARG scoping, predefined args, ONBUILD triggers, the syntax notice', async () => {
        const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
        const dir = ctx({
          Dockerfile: [
            '# syntax=docker/dockerfile:1', 'ARG BASE=busybox:latest', 'ARG GLOBAL=g', 'ARG ONLYGLOBAL=o', 'FROM $BASE AS parent', 'ARG GLOBAL', 'ARG LOCAL=l-$GLOBAL',
            'ENV E=env-$LOCAL', 'ARG TARGETARCH', 'ARG OVER=arg', 'ENV OVER=env',
            'RUN echo "$GLOBAL|$LOCAL|$E|$TARGETARCH|${ONLYGLOBAL:-unset}|$OVER|$http_proxy" > /args', 'ONBUILD RUN echo triggered > /trig',
          ].join('\n'),
        });
        const r = await c.berth(['build', '--progress=plain', '--build-arg', 'http_proxy=http://proxy.invalid', '-t', 'argparent:1', dir]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.err, /^#0 syntax=docker\/dockerfile:1: berth builds with its built-in Dockerfile frontend$/m);
        assert.equal(await c.ok(['run', '--rm', 'argparent:1', 'cat', '/args']), `g|l-g|env-l-g|${arch}|unset|env|http://proxy.invalid`);
        const hist = await c.ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'argparent:1']);
        assert.doesNotMatch(hist, /proxy\.invalid/, 'proxy args stay out of the history');
        assert.match(hist, /^RUN \|4 GLOBAL=g LOCAL=l-g TARGETARCH=\S+ OVER=env \/bin\/sh -c /m);
        assert.deepEqual((await inspectConfig(c, 'argparent:1')).OnBuild, ['RUN echo triggered > /trig']);
        const child = await c.berth(['build', '--progress=plain', '-t', 'argchild:1', '-'], { input: 'FROM argparent:1\nRUN cat /trig\n' });
        assert.equal(child.code, 0, child.err);
        assert.match(child.err, /ONBUILD RUN echo triggered > \/trig/);
        assert.match(child.err, /^#\d+ [\d.]+ triggered$/m);
        assert.ok(!(await inspectConfig(c, 'argchild:1')).OnBuild, 'triggers are not inherited');
      });

      await t.test('the cache: what hits and what misses', async () => {
        const df = 'FROM busybox:latest\nARG USED=1\nRUN echo $USED > /used\nCOPY f /f\nRUN cat /f > /g\n';
        const dir = ctx({ Dockerfile: df, f: 'one\n', 'skip.txt': 'x', '.dockerignore': 'skip.txt\n' });
        const first = await c.berth(['build', '--progress=plain', '-t', 'cache:1', dir]);
        assert.equal(first.code, 0, first.err);
        const again = async (...args: string[]) => {
          const r = await c.berth(['build', '--progress=plain', '-t', 'cache:1', ...args, dir]);
          assert.equal(r.code, 0, r.err);
          return { cached: (r.err.match(/^#\d+ CACHED$/gm) ?? []).length, err: r.err };
        };
        assert.equal((await again()).cached, 4, 'unchanged');
        const unused = await again('--build-arg', 'NOTDECLARED=2');
        assert.equal(unused.cached, 4, 'unused build arg');
        assert.match(unused.err, /build-args \[NOTDECLARED\] were not consumed/);
        writeFileSync(join(dir, 'skip.txt'), 'changed');
        assert.equal((await again()).cached, 4, 'ignored file changed');
        assert.equal((await again('--build-arg', 'USED=2')).cached, 1, 'used arg: the RUN that uses it and all after it miss (the ARG itself is keyed by its name)');
        writeFileSync(join(dir, 'f'), 'two\n');
        assert.equal((await again()).cached, 2, 'file content: ARG and first RUN hit');
        writeFileSync(join(dir, 'Dockerfile'), df.replace('cat /f > /g', 'cat /f >  /g'));
        assert.equal((await again()).cached, 3, 'instruction text');
        assert.equal((await again('--no-cache')).cached, 0, '--no-cache');
        assert.equal(await c.ok(['run', '--rm', 'cache:1', 'cat', '/g']), 'two');
        const pruned = await c.ok(['builder', 'prune', '-f']);
        assert.match(pruned, /Deleted build cache objects: [1-9]/);
        assert.equal((await again()).cached, 0, 'after builder prune');
      });

      await t.test('multi-stage: target, skipped stages, COPY --from, parallel stages', async () => {
        const df = [
          'FROM busybox:latest AS a', 'RUN sleep 1; echo A > /a',
          'FROM busybox:latest AS b', 'RUN sleep 1; echo B > /b',
          'FROM busybox:latest AS broken', 'RUN exit 9',
          'FROM scratch AS final', 'COPY --from=a /a /a', 'COPY --from=1 /b /b',
          'FROM final AS extra', 'COPY --from=broken /x /x',
        ].join('\n');
        const dir = ctx({ Dockerfile: df });
        const r = await c.berth(['build', '--progress=plain', '--target', 'final', '-t', 'multi:1', dir]);
        assert.equal(r.code, 0, r.err);
        assert.doesNotMatch(r.err, /exit 9/, 'a stage no target needs is skipped');
        const lines = r.err.split('\n');
        const start = (re: RegExp) => { const i = lines.findIndex((l) => re.test(l)); return { i, n: /^#(\d+) /.exec(lines[i] ?? '')?.[1] }; };
        const runA = start(/\[a 2\/2\] RUN/);
        const runB = start(/\[b 2\/2\] RUN/);
        const firstDone = lines.findIndex((l) => l === `#${runA.n} DONE` || l.startsWith(`#${runA.n} DONE `) || l.startsWith(`#${runB.n} DONE `));
        assert.ok(runA.i >= 0 && runB.i >= 0 && firstDone > Math.max(runA.i, runB.i), `independent stages run side by side:\n${r.err}`);
        const saved = await savedLayers(execFileSync(FRONT, ['save', 'multi:1'], { env: { ...c.env, BERTH_NO_WORKER: '1' }, maxBuffer: 1 << 26 }));
        assert.deepEqual(saved, [['a file 644 0:0 2 06f961b802bc'], ['b file 644 0:0 2 c0cde77fa8fe']]);
        const cyc = ctx({ Dockerfile: 'FROM busybox:latest AS x\nCOPY --from=y /a /a\nFROM busybox:latest AS y\nCOPY --from=x /b /b\n' });
        const rc = await c.berth(['build', cyc]);
        assert.equal(rc.code, 1);
        assert.match(rc.err, /circular dependency detected on stage: [xy]/);
        const missing = await c.berth(['build', '--target', 'nope', dir]);
        assert.match(missing.err, /target stage "nope" could not be found/);
      });

      await t.test('heredocs, ADD of a local tar, symlinks kept inside the context', async () => {
        const dir = ctx({
          Dockerfile: 'FROM busybox:latest\nARG N=7\nRUN <<EOF\necho "n=$N" > /r\nEOF\nCOPY <<-"X" /q\n\tliteral $N\n\tX\nADD t.tar /t/\nCOPY link out /c/\nRUN <<EOT\n#!/bin/sh\necho "$0" > /s\nEOT\n',
          out: 'o',
        });
        execFileSync('tar', ['-cf', join(dir, 't.tar'), '-C', dir, 'out']);
        symlinkSync('/etc/passwd', join(dir, 'link'));
        const r = await c.berth(['build', '-t', 'hd:1', dir]);
        assert.equal(r.code, 1, 'a link out of the context is not followed out of it');
        assert.match(r.err, /Dockerfile:10: COPY: "\/link": not found/);
        writeFileSync(join(dir, 'Dockerfile'), readFileSync(join(dir, 'Dockerfile'), 'utf8').replace('COPY link out /c/', 'COPY . /c/'));
        await c.ok(['build', '-t', 'hd:1', dir]);
        const out = await c.ok(['run', '--rm', 'hd:1', 'sh', '-c', 'cat /r /q /t/out; echo; readlink /c/link; ls /c; cat /s']);
        assert.equal(out, 'n=7\nliteral $N\no\n/etc/passwd\nDockerfile\nlink\nout\nt.tar\n/dev/pipes/EOT');
      });

      await t.test('contexts and Dockerfiles from stdin, --iidfile, --label, -f', async () => {
        const iid = join(tmpdir(), `berth-iid-${process.pid}`);
        const stdinDf = await c.berth(['build', '-q', '--iidfile', iid, '--label', 'k=v', '-'], { input: 'FROM busybox:latest\nENV X=1\n' });
        assert.equal(stdinDf.code, 0, stdinDf.err);
        assert.equal(readFileSync(iid, 'utf8'), stdinDf.out.trim());
        rmSync(iid, { force: true });
        assert.deepEqual((await inspectConfig(c, stdinDf.out.trim())).Labels, { k: 'v' });
        const dir = ctx({ 'other.Dockerfile': 'FROM busybox:latest\nCOPY f /f\n', f: 'from tar\n' });
        const tarball = execFileSync('tar', ['-c', '-C', dir, '.']);
        const fromTar = await c.berth(['build', '-q', '-f', 'other.Dockerfile', '-t', 'tarctx:1', '-'], { input: tarball });
        assert.equal(fromTar.code, 0, fromTar.err);
        assert.equal(await c.ok(['run', '--rm', 'tarctx:1', 'cat', '/f']), 'from tar');
      });

      await t.test('bad input: clear errors, nothing left behind', async () => {
        const before = await c.ids();
        const imagesBefore = await c.ok(['images', '-a', '-q', '--no-trunc']);
        const cases: Array<[string, RegExp]> = [
          ['FROM busybox:latest\nRUN echo out1; echo out2; exit 3\n', /Dockerfile:2: \[2\/2\] RUN echo out1; echo out2; exit 3: process "\/bin\/sh -c echo out1; echo out2; exit 3" did not complete successfully: exit code: 3/],
          ['FROM busybox:latest\nRUNN x\n', /Dockerfile:2: dockerfile parse error on line 2: unknown instruction: RUNN/],
          ['FROM busybox:latest\nCOPY missing /m\n', /Dockerfile:2: COPY: "\/missing": not found/],
          ['FROM localhost:1/nothing:here\n', /Dockerfile:1: FROM localhost:1\/nothing:here: /],
          ['FROM busybox:latest\nRUN --mount=type=ssh,required=true true\n', /RUN: no SSH key "default" forwarded from the client/],
        ];
        for (const [df, re] of cases) {
          const r = await c.berth(['build', '-t', 'bad:1', '-'], { input: df });
          assert.equal(r.code, 1, df);
          assert.match(r.err, re, df);
          if (/exit 3/.test(df)) assert.match(r.err, /^> out1\n> out2$/m, 'the last lines of the failed step');
        }
        // interrupted during a RUN (Ctrl-C): the step's container goes, nothing is tagged
        const dir = ctx({ Dockerfile: 'FROM busybox:latest\nRUN echo started; sleep 30\n' });
        const child = c.spawn(['build', '--progress=plain', '-t', 'bad:1', dir]);
        let err = '';
        const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
        await new Promise<void>((res) => child.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (/ started$/m.test(err)) res(); }));
        child.kill('SIGINT');
        const code = await exited;
        assert.notEqual(code, 0, err);
        assert.match(err, /interrupted/);
        assert.deepEqual(await c.ids(), before, 'no container left');
        // kill -9 of the CLI during a RUN: the next build removes the step's container and image
        const killed = c.spawn(['build', '--progress=plain', '-t', 'bad:1', dir]);
        let kerr = '';
        const kexit = new Promise<void>((res) => killed.on('close', () => res()));
        await new Promise<void>((res) => killed.stderr!.on('data', (d: Buffer) => { kerr += d.toString(); if (/ started$/m.test(kerr)) res(); }));
        killed.kill('SIGKILL');
        await kexit;
        assert.equal((await c.ids()).length, before.length + 1, 'the killed build left its step container');
        const sweeper = await c.ok(['build', '-q', '-'], { input: 'FROM busybox:latest\n' });
        assert.deepEqual(await c.ids(), before, 'swept by the next build');
        const imagesAfter = (await c.ok(['images', '-a', '-q', '--no-trunc'])).split('\n').filter((i) => i !== sweeper);
        assert.deepEqual(imagesAfter, imagesBefore.split('\n'), 'no image or tag left');
      });
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
