/**
 * The exit of a rootless container on a user-defined network (issue 17), as a real unprivileged
 * user made here, through the real CLI. Its monitor joined the rootless network namespace's user
 * namespace, where a program it starts has no rights: the exit command (the cleanup, a restart
 * policy's restart) is run by a runner the monitor forked before the joins (native
 * monitor_runner.c). So a restart policy restarts it, its cleanup releases its address, and after
 * `rm -f` no runner or monitor of the user is left.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { netMissing, netUser, type TestUser } from './user-util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rootless: the exit of a container on a user-defined network', { concurrency: false }, () => {
  const why = netMissing('/usr/bin/pasta', '/usr/bin/nsenter');
  let u: TestUser | undefined;
  let done = () => {};
  const berth = (args: string[]) => u!.berth(args, { timeout: 60_000 });
  const procs = () => spawnSync('ps', ['-u', u!.name, '-o', 'args='], { encoding: 'utf8' }).stdout.trim();
  /** How many times container `id` started (its "run" lines in its log file), waiting up to 30 s for `want`. */
  const runsOf = async (id: string, want: number) => {
    const log = join(u!.dataRoot, 'containers', id, `${id}-json.log`);
    const runs = () => { try { return (readFileSync(log, 'utf8').match(/"run\\n"/g) ?? []).length; } catch { return 0; } };
    for (let i = 0; i < 300 && runs() < want; i++) await sleep(100);
    return runs();
  };

  before(() => {
    if (why) return;
    ({ user: u, done } = netUser('brx'));
  });

  after(() => {
    if (!u) return;
    berth(['rm', '-f', 'rx-fail', 'rx-once', 'rx-kid']);
    berth(['network', 'rm', 'rx-net']);
    done();
  });

  it('a restart policy restarts it; the cleanup of a plain exit releases its address; rm leaves no runner', async (t) => {
    if (why) return t.skip(why);
    let r = berth(['network', 'create', '--subnet', '10.231.7.0/24', 'rx-net']);
    assert.equal(r.code, 0, r.err);
    // exits 3 each time: on-failure:2 means two restarts, then it stays exited. Watched through its
    // log file only: a berth command would settle a pending restart itself, as the exit command should
    r = berth(['run', '-d', '--name', 'rx-fail', '--restart', 'on-failure:2', '--network', 'rx-net', 'busybox:latest', 'sh', '-c', 'echo run; sleep 0.3; exit 3']);
    assert.equal(r.code, 0, r.err);
    const id = r.out.trim();
    assert.equal(await runsOf(id, 3), 3, 'started three times: restarted by its own exit command, twice');
    let state = '';
    for (let i = 0; i < 100; i++) {
      state = berth(['inspect', '-f', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}', 'rx-fail']).out.trim();
      if (state === 'exited 2 3') break;
      await sleep(100);
    }
    assert.equal(state, 'exited 2 3', 'then left exited with its code');
    // a plain exit: the cleanup (the exit command) releases the address, so a new container gets it
    r = berth(['run', '-d', '--name', 'rx-once', '--network', 'rx-net', '--ip', '10.231.7.9', 'busybox:latest', 'true']);
    assert.equal(r.code, 0, r.err);
    for (let i = 0; i < 100 && berth(['inspect', '-f', '{{.State.Status}}', 'rx-once']).out.trim() !== 'exited'; i++) await sleep(100);
    let cleaned = false;
    for (let i = 0; i < 100 && !cleaned; i++) {
      r = berth(['run', '--rm', '--network', 'rx-net', '--ip', '10.231.7.9', 'busybox:latest', 'true']);
      cleaned = r.code === 0;
      if (!cleaned) await sleep(100);
    }
    assert.ok(cleaned, `the exited container's address was released by its cleanup: ${r.err}`);
    // --userns keep-id: a user namespace of its own inside the rootless one, which its monitor
    // joined all the same: restarted by its own exit command too
    r = berth(['run', '-d', '--name', 'rx-kid', '--userns', 'keep-id', '--restart', 'on-failure:1', '--network', 'rx-net', 'busybox:latest', 'sh', '-c', 'echo run; sleep 0.3; exit 4']);
    assert.equal(r.code, 0, r.err);
    assert.equal(await runsOf(r.out.trim(), 2), 2, 'the keep-id container was restarted once by its own exit command');
    assert.equal(berth(['rm', '-f', 'rx-fail', 'rx-once', 'rx-kid']).code, 0);
    for (let i = 0; i < 50 && /berth-helper|berth /.test(procs()); i++) await sleep(100);
    assert.doesNotMatch(procs(), /berth-helper|berth /, 'no monitor or runner of the user is left');
  });
});
