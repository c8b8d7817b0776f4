/** `berth serve`: `docker run -it`, `docker exec -it` through a real pty (size, resize, exit codes), `run -t`, `run --rm` exit codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { dockerPty } from './serve-containers-util.js';
import { cannotServe, httpOn, withServer } from './util.js';

const skip = cannotServe();

/** The terminal's text without escape sequences and carriage returns. */
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

test('docker run -it: a pty of the terminal size, resized with it, raw output, the exit code', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const r = await dockerPty(s, ['run', '-it', '--rm', '--name', 'tty1', 'busybox', 'sh'], [30, 100], [
      { until: '# ' }, { write: 'stty size; tty; echo x$((6*7))y\r' }, { until: 'x42y' },
      { resize: [20, 50] }, { sleep: 0.5 }, { write: 'stty size\r' }, { until: '20 50' }, { write: 'exit 7\r' },
    ]);
    const out = plain(r.out);
    assert.equal(r.code, 7, out);
    assert.match(out, /\n30 100\n/);
    assert.match(out, /\/dev\/pts\/\d+\n/);
    assert.match(out, /\nx42y\n/); // no stdcopy frame headers in a tty's stream
    assert.doesNotMatch(r.out, /\x01\x00\x00\x00/);
    assert.match(out, /\n20 50\n/);
    assert.equal((await s.docker(['ps', '-aq', '--filter', 'name=tty1'])).out, '', 'the --rm container is gone');
  });
});

test('docker exec -it: the pty of ConsoleSize, resized, stdin, the exit code', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    assert.equal((await s.docker(['run', '-d', '--name', 'host', 'busybox', 'sleep', '300'])).code, 0);
    const r = await dockerPty(s, ['exec', '-it', 'host', 'sh'], [33, 101], [
      { until: '# ' }, { write: 'stty size; tty\r' }, { until: '33 101' },
      { resize: [25, 60] }, { sleep: 0.5 }, { write: 'stty size\r' }, { until: '25 60' }, { write: 'exit 5\r' },
    ]);
    const out = plain(r.out);
    assert.equal(r.code, 5, out);
    assert.match(out, /\n33 101\n/);
    assert.match(out, /\/dev\/pts\/\d+\n/);
    assert.match(out, /\n25 60\n/);
    await s.docker(['rm', '-f', 'host']);
  });
});

test('docker run -it, detach with ctrl-p ctrl-q: the container runs on; docker attach to it again', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const r = await dockerPty(s, ['run', '-it', '--name', 'det', 'busybox', 'sh'], [24, 80], [
      { until: '# ' }, { write: 'echo alive\r' }, { until: 'alive\r\n' }, { write: '\x10\x11' }, { sleep: 1 },
    ]);
    assert.equal(r.code, 0, plain(r.out));
    assert.equal((await s.docker(['inspect', '-f', '{{.State.Status}}', 'det'])).out, 'running\n');
    const a = await dockerPty(s, ['attach', 'det'], [24, 80], [{ sleep: 1 }, { write: 'echo back-$((40+2))\r' }, { until: 'back-42' }, { write: 'exit 4\r' }]);
    assert.match(plain(a.out), /back-42\n/);
    assert.equal(a.code, 4, plain(a.out));
    assert.equal((await s.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'det'])).out, 'exited 4\n');
  });
});

test('docker run -t without -i, and exit codes of run, run --rm, run -d + wait', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const t = await s.docker(['run', '--rm', '-t', 'busybox', 'sh', '-c', 'tty; echo err >&2; exit 4']);
    assert.equal(t.code, 4, t.err);
    // one pty: stderr arrives on stdout, lines end in \r\n (the pty's onlcr)
    assert.match(t.out, /^\/dev\/pts\/\d+\r\nerr\r\n$/);
    assert.equal(t.err, '');
    for (const [args, code] of [[['--rm'], 3], [[], 3], [['--rm', '-i'], 9]] as const) {
      const r = await s.docker(['run', ...args, 'busybox', 'sh', '-c', `exit ${code}`]);
      assert.equal(r.code, code, `run ${args.join(' ')}: ${r.err}`);
    }
    const d = await s.docker(['run', '-d', 'busybox', 'sh', '-c', 'sleep 0.3; exit 6']);
    assert.equal((await s.docker(['wait', d.out.trim()])).out, '6\n');
  });
});

test('exec inspect: Pid is the exec\'d process on the host (not its helper), Running while it runs', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    assert.equal((await s.docker(['run', '-d', '--name', 'xp', 'busybox', 'sleep', '300'])).code, 0);
    const made = await httpOn(s.socket, 'POST', '/v1.47/containers/xp/exec', { Cmd: ['sleep', '7'], Tty: true });
    assert.equal(made.status, 201, made.body);
    const id = JSON.parse(made.body).Id as string;
    const started = await httpOn(s.socket, 'POST', `/v1.47/exec/${id}/start`, { Detach: true, Tty: true });
    assert.equal(started.status, 200, started.body);
    let info: { Pid: number; Running: boolean } = { Pid: 0, Running: false };
    for (let i = 0; i < 50 && !info.Pid; i++) {
      info = JSON.parse((await httpOn(s.socket, 'GET', `/v1.47/exec/${id}/json`)).body);
      if (!info.Pid) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(info.Running, true);
    assert.equal(readFileSync(`/proc/${info.Pid}/cmdline`, 'utf8'), 'sleep\x007\x00');
    await s.docker(['rm', '-f', 'xp']);
  });
});

/** A hijacked stream's text until it ends (or `ms`): whether it ended, and what came. */
function readUntilEnd(d: Duplex, ms: number): Promise<{ ended: boolean; text: string }> {
  return new Promise((resolve) => {
    let text = '';
    const t = setTimeout(() => resolve({ ended: false, text }), ms);
    d.on('data', (b: Buffer) => { text += b.toString('latin1'); });
    const end = () => { clearTimeout(t); resolve({ ended: true, text }); };
    d.once('end', end);
    d.once('close', end);
  });
}

test('detach keys on the server: attach detachKeys=ctrl-x,x and exec DetachKeys end the stream, the processes run on; a bad spec is a 400', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const docker = new Docker({ socketPath: s.socket });
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh'], Tty: true, OpenStdin: true, name: 'dk1' });
    await c.start();
    const a = await c.attach({ stream: true, stdin: true, stdout: true, detachKeys: 'ctrl-x,x', hijack: true }) as unknown as Duplex;
    const got = readUntilEnd(a, 8000);
    a.write('echo a$((1+2))b\r');
    await new Promise((r) => setTimeout(r, 500));
    a.write('\x18x');
    const r = await got;
    assert.ok(r.ended, `the attach ended at the keys; got ${JSON.stringify(r.text)}`);
    assert.match(r.text, /a3b/);
    assert.equal((await c.inspect()).State.Status, 'running');
    // exec: its own keys; the exec'd shell keeps running after
    const ex = await c.exec({ Cmd: ['sh'], Tty: true, AttachStdin: true, AttachStdout: true, DetachKeys: 'ctrl-a,q' });
    const d = await ex.start({ hijack: true, stdin: true, Tty: true }) as unknown as Duplex;
    const got2 = readUntilEnd(d, 8000);
    d.write('echo e$((2+3))f\r');
    await new Promise((r2) => setTimeout(r2, 500));
    d.write('\x01q');
    const r2 = await got2;
    assert.ok(r2.ended, `the exec stream ended at the keys; got ${JSON.stringify(r2.text)}`);
    assert.match(r2.text, /e5f/);
    const info = await ex.inspect();
    assert.equal(info.Running, true);
    assert.equal(info.DetachKeys, 'ctrl-a,q');
    const bad = await s.http('POST', '/v1.47/containers/dk1/exec', { Cmd: ['true'], DetachKeys: 'ctrl-ä' });
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /Invalid detach keys/);
    await c.remove({ force: true });
  });
});
