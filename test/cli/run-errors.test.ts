/**
 * `berth run` errors as Docker reports them: exit 125 (the CLI's or the daemon's error), one
 * clear message line (plus Docker's help hint), and nothing left behind — no container record,
 * snapshot, mount, directory or cgroup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, messageLines, mountsUnder, withCli, type Cli } from './run-util.js';

const skip = cannotRun();

/** What exists on the roots, for a before/after comparison. */
async function footprint(c: Cli): Promise<Record<string, unknown>> {
  const ls = (d: string) => { try { return readdirSync(d).sort(); } catch { return []; } };
  return {
    containers: await c.ids(),
    dataDirs: ls(join(c.root, 'containers')),
    runDirs: ls(c.runRoot).filter((e) => /^[0-9a-f]{64}$/.test(e)),
    snapshots: ls(join(c.root, 'snapshots/snapshots')),
    volumes: ls(join(c.root, 'volumes')),
    mounts: [...mountsUnder(c.root), ...mountsUnder(c.runRoot)].sort(),
  };
}

/**
 * `berth run ARGS` must fail with `code` (125) and `want` in its message — a single line unless
 * `anyLine` — changing nothing. A --cidfile tells the id of a container made and removed again,
 * whose cgroups must be gone too.
 */
async function refused(c: Cli, args: string[], want: RegExp, o: { code?: number; anyLine?: boolean } = {}): Promise<string> {
  const before = await footprint(c);
  const tmp = mkdtempSync(join(tmpdir(), 'berth-cid-'));
  try {
    const cid = join(tmp, 'cid');
    const r = await c.berth(['run', ...(args.length ? ['--cidfile', cid] : []), ...args]);
    const what = `berth run ${args.join(' ')}`;
    assert.equal(r.code, o.code ?? 125, `${what}: ${r.err}`);
    assert.equal(r.out, '', `${what}: nothing on stdout`);
    const msg = messageLines(r.err);
    if (o.anyLine) assert.ok(msg.some((l) => want.test(l)), `${what}: ${r.err}`);
    else {
      assert.match(msg[0] ?? '', want, `${what}: ${r.err}`);
      assert.equal(msg.length, 1, `${what}: one message line: ${r.err}`);
    }
    assert.deepEqual(await footprint(c), before, `${what} left something behind`);
    if (existsSync(cid)) assert.deepEqual(c.leftovers(readFileSync(cid, 'utf8')), [], `${what}: leftovers`);
    return r.err;
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}

test('flag errors: unknown flag, bad values, conflicting options (125, usage message)', { skip }, () => withCli(async (c) => {
  await refused(c, ['--bogus', 'busybox', 'true'], /^berth: unknown flag: --bogus$/);
  await refused(c, ['--cpus', 'abc', 'busybox', 'true'], /invalid argument "abc" for "--cpus" flag/);
  await refused(c, ['-m', 'lots', 'busybox', 'true'], /invalid argument "lots" for "-m, --memory" flag/);
  await refused(c, ['--rm', '--restart', 'always', 'busybox', 'true'], /Conflicting options: --restart and --rm/);
  await refused(c, ['--pid', 'bogus', 'busybox', 'true'], /--pid: invalid PID mode/);
  await refused(c, ['--name', 'bad name!', 'busybox', 'true'], /Invalid container name \(bad name!\)/);
}));

test('run without an image: the usage error, exit 1 as Docker\'s (cobra argument checks are not status errors)', {
  skip,
}, () => withCli(async (c) => {
  await refused(c, [], /"berth run" requires at least 1 argument/, { code: 1, anyLine: true });
}));

test('image errors: bad reference, missing image with --pull never (125, nothing pulled or made)', { skip }, () => withCli(async (c) => {
  const err = await refused(c, ['--rm', 'UPPER'], /invalid reference format.*must be lowercase/, { anyLine: true });
  assert.match(err, /UPPER/);
  await refused(c, ['--rm', '--pull', 'never', 'nosuchimage:1'], /No such image: nosuchimage:1/);
  await refused(c, ['--rm', '--pull', 'sometimes', 'busybox'], /invalid pull option: 'sometimes'/);
}));

test('a bad image reference is one message line (Docker checks the reference before looking for the image)', {
  skip,
}, () => withCli(async (c) => {
  const r = await c.berth(['run', '--rm', 'UPPER']);
  assert.equal(r.code, 125);
  assert.deepEqual(messageLines(r.err).length, 1, r.err);
}));

test('resource errors from the daemon: -m below the minimum, --cpus above the machine', { skip }, () => withCli(async (c) => {
  await refused(c, ['--rm', '-m', '1k', 'busybox', 'true'], /Minimum memory limit allowed is 6MB/);
  await refused(c, ['--rm', '--cpus', '99', 'busybox', 'true'], /Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available/);
  await refused(c, ['--rm', '-m', '64m', '--memory-swap', '32m', 'busybox', 'true'], /Minimum memoryswap limit should be larger than memory limit/);
  await refused(c, ['--rm', '--cpuset-cpus', '99', 'busybox', 'true'], /cpuset|99/);
}));

test('a name conflict: 125, one line naming the name; the first container untouched', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['create', '--name', 'taken', 'busybox', 'true']);
  await refused(c, ['--name', 'taken', 'busybox', 'true'], /Conflict\. The container name "\/taken" is already in use by container "[0-9a-f]{64}"/);
  await refused(c, ['--rm', '--name', 'taken', 'busybox', 'true'], /"\/taken"/);
  assert.equal(await c.ok(['inspect', '-f', '{{.Id}} {{.State.Status}}', 'taken']), `${id} created`);
}));

test('a command that cannot start: 127/126; with --rm nothing stays, without it the container stays Created', { skip }, () => withCli(async (c) => {
  const before = await footprint(c);
  let r = await c.berth(['run', '--rm', 'busybox', 'nosuchcmd']);
  assert.equal(r.code, 127);
  assert.match(firstMessage(r.err), /nosuchcmd.*(executable file not found in \$PATH|no such file)/i);
  r = await c.berth(['run', '--rm', 'busybox', '/etc']);
  assert.equal(r.code, 126);
  assert.deepEqual(await footprint(c), before);
  // Docker keeps a container whose process could not start: Created, with the exit code and the error
  r = await c.berth(['run', '--name', 'failed', 'busybox', 'nosuchcmd']);
  assert.equal(r.code, 127);
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'failed']), 'created 127');
  assert.match(await c.ok(['inspect', '-f', '{{.State.Error}}', 'failed']), /nosuchcmd/);
  const id = await c.ok(['inspect', '-f', '{{.Id}}', 'failed']);
  assert.deepEqual(mountsUnder(c.runRoot).filter((m) => m.includes(id)), [], 'its rootfs is not left mounted');
  await c.ok(['rm', 'failed']);
  assert.deepEqual(c.leftovers(id), []);
}));

function firstMessage(err: string): string {
  return messageLines(err)[0] ?? '';
}

test('-it without a terminal: "the input device is not a TTY", exit 1, nothing created', { skip }, () => withCli(async (c) => {
  const before = await footprint(c);
  const r = await c.berth(['run', '-it', '--rm', 'busybox', 'true']);
  assert.equal(r.code, 1);
  assert.equal(r.err.trim(), 'the input device is not a TTY');
  assert.deepEqual(await footprint(c), before);
}));
