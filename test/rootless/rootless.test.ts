/**
 * Rootless berth (issue 17), as a real unprivileged user made here (useradd, subordinate id
 * ranges), through the real CLI (dist/berth, BERTH_NO_WORKER=1) run with runuser: import of a
 * busybox image, run --rm, root inside = the first subordinate id (uid_map, owners on the host),
 * -d + logs + exec + rm leaving nothing, a root-only host file stays unreadable through a bind
 * mount, and -m refused. Plus the id-map pieces (single-id fallback, ids outside the range).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSubIds, rootlessIds, subIdsHint } from '../../src/sys/index.js';
import { RootlessOwners } from '../../src/snapshots/rootless.js';
import { busyboxRootfs, haveBusybox } from '../helpers/rootfs.js';
import { FRONT } from '../helpers/worker.js';

const BASE = 300000 + Math.floor(Math.random() * 100) * 70000; // a range of our own (ranges of users may overlap)
const COUNT = 65536;

function missing(): string | undefined {
  if (process.geteuid!() !== 0) return 'needs root to create a user';
  for (const b of ['/usr/sbin/useradd', '/usr/bin/newuidmap', '/usr/bin/newgidmap', '/usr/sbin/runuser', '/usr/bin/unshare']) if (!existsSync(b)) return `${b} is missing`;
  if (!haveBusybox()) return 'no busybox';
  const r = spawnSync('unshare', ['--user', '--map-root-user', 'true']);
  if (r.status !== 0) return 'unprivileged user namespaces are disabled';
  return undefined;
}

describe('rootless berth as an ordinary user', { concurrency: false }, () => {
  const why = missing();
  const user = `brl${Math.random().toString(36).slice(2, 8)}`;
  let home = '', uid = 0, tarDir = '', made = false;

  const berth = (args: string[], timeout = 60_000, worker = false) => {
    const env = ['HOME=' + home, `PATH=${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, `BERTH_NO_WORKER=${worker ? 0 : 1}`, 'BERTH_BRIDGE=none', 'LANG=C'];
    const r = spawnSync('runuser', ['-u', user, '--', 'env', '-i', ...env, FRONT, ...args], { encoding: 'utf8', timeout, cwd: '/tmp' });
    return { code: r.status, out: r.stdout, err: r.stderr.split('\n').filter((l) => !l.startsWith('WARNING: XDG_RUNTIME_DIR')).join('\n') };
  };
  const dataRoot = () => join(home, '.local/share/berth');
  const runRoot = () => `/tmp/berth-run-${uid}/berth`;

  before(() => {
    if (why) return;
    execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);
    made = true;
    // useradd may have given ranges of its own (SUB_UID_MIN…): ours only, so that we know the base
    for (const f of ['/etc/subuid', '/etc/subgid']) execFileSync('sed', ['-i', `/^${user}:/d`, f]);
    execFileSync('usermod', ['--add-subuids', `${BASE}-${BASE + COUNT - 1}`, '--add-subgids', `${BASE}-${BASE + COUNT - 1}`, user]);
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    home = `/home/${user}`;
    tarDir = mkdtempSync(join(tmpdir(), 'berth-rootless-img-'));
    chmodSync(tarDir, 0o755);
    const fs = join(tarDir, 'fs');
    busyboxRootfs(fs);
    execFileSync('tar', ['-C', fs, '--owner=0', '--group=0', '-cf', join(tarDir, 'busybox.tar'), '.']);
    chmodSync(join(tarDir, 'busybox.tar'), 0o644);
    const r = berth(['import', join(tarDir, 'busybox.tar'), 'busybox:latest']);
    assert.equal(r.code, 0, r.err);
  });

  after(() => {
    if (!made) return;
    berth(['rm', '-f', 'rl-d']);
    berth(['rm', '-f', 'rl-web']);
    spawnSync('pkill', ['-KILL', '-u', user]); // only the processes of the user this test made
    spawnSync('userdel', ['-r', '-f', user]);
    rmSync(`/tmp/berth-run-${uid}`, { recursive: true, force: true });
    if (tarDir) rmSync(tarDir, { recursive: true, force: true });
    // userdel drops the user's ranges; make sure
    for (const f of ['/etc/subuid', '/etc/subgid']) spawnSync('sed', ['-i', `/^${user}:/d`, f]);
  });

  it('run --rm prints the output and returns the exit code', (t) => {
    if (why) return t.skip(why);
    const r = berth(['run', '--rm', 'busybox:latest', 'sh', '-c', 'echo hello from $(id -u); exit 3']);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.out, 'hello from 0\n');
  });

  it('root inside is the first subordinate id: uid_map, and the owners on the host', (t) => {
    if (why) return t.skip(why);
    const r = berth(['run', '--rm', 'busybox:latest', 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    assert.deepEqual(lines[0], [0, BASE, COUNT]); // uid 0 → BASE
    assert.deepEqual(lines[2], [0, BASE, COUNT]); // gid 0 → BASE
    // the image's files on the host: owned by the container's root, not by the user, not by root
    const snaps = join(dataRoot(), 'snapshots/snapshots');
    const owners = readdirSync(snaps).map((d) => statSync(join(snaps, d, 'fs/bin/busybox'), { throwIfNoEntry: false })).filter(Boolean);
    assert.ok(owners.length >= 1);
    for (const st of owners) assert.deepEqual([st!.uid, st!.gid], [BASE, BASE]);
  });

  it('the user\'s own warm process serves the commands once the run root exists (the front finds the user\'s run root)', (t) => {
    if (why) return t.skip(why);
    // the earlier commands made /tmp/berth-run-UID (no XDG_RUNTIME_DIR here): the front starts the
    // warm process there, as the user, and the next commands are served by it
    const sock = join(runRoot(), 'cli.sock');
    assert.ok(!existsSync(sock), 'no warm process before');
    for (let i = 0; i < 3; i++) {
      const r = berth(['run', '--rm', '--network', 'none', 'busybox:latest', 'sh', '-c', 'id -u; echo served'], 60_000, true);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, '0\nserved\n');
    }
    assert.ok(existsSync(sock), `the warm process listens on ${sock}`);
    const log = readFileSync(join(runRoot(), 'cli.log'), 'utf8');
    assert.match(log, /berth worker: listening on .*cli\.sock/);
    const pid = Number(/\(pid (\d+)/.exec(log)![1]);
    assert.equal(statSync(`/proc/${pid}`).uid, uid, 'the warm process runs as the user');
    process.kill(pid, 'SIGTERM');
  });

  it('-d, logs, exec, rm -f leave nothing behind', (t) => {
    if (why) return t.skip(why);
    const before = readdirSync(join(dataRoot(), 'snapshots/snapshots')).sort();
    let r = berth(['run', '-d', '--name', 'rl-d', 'busybox:latest', 'sh', '-c', 'echo started; echo data > /made; sleep 300']);
    assert.equal(r.code, 0, r.err);
    const id = r.out.trim();
    for (let i = 0; i < 50 && !berth(['logs', 'rl-d']).out.includes('started'); i++) execFileSync('sleep', ['0.1']);
    assert.equal(berth(['logs', 'rl-d']).out, 'started\n');
    r = berth(['exec', 'rl-d', 'sh', '-c', 'id -u; cat /made']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '0\ndata\n');
    // the file the container wrote is the container root's on the host
    const snaps = join(dataRoot(), 'snapshots/snapshots');
    const upper = readdirSync(snaps).filter((d) => !before.includes(d)).map((d) => join(snaps, d, 'fs/made')).find((p) => existsSync(p));
    assert.ok(upper, 'the container\'s upper dir holds /made');
    assert.equal(statSync(upper).uid, BASE);
    r = berth(['rm', '-f', 'rl-d']);
    assert.equal(r.code, 0, r.err);
    assert.equal(berth(['ps', '-aq']).out, '');
    assert.deepEqual(readdirSync(snaps).sort(), before);
    assert.deepEqual(readdirSync(join(snaps, '..', 'trash')), []);
    assert.ok(!existsSync(join(runRoot(), id)), 'no run directory left');
    assert.ok(!existsSync(join(dataRoot(), 'containers', id)), 'no container directory left');
  });

  it('a bind mount of a root 0600 host file gives nothing to read', (t) => {
    if (why) return t.skip(why);
    const dir = mkdtempSync(join(tmpdir(), 'berth-rootless-secret-'));
    chmodSync(dir, 0o755);
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'TOP-SECRET\n', { mode: 0o600 });
    try {
      const r = berth(['run', '--rm', '-v', `${secret}:/s`, 'busybox:latest', 'cat', '/s']);
      assert.notEqual(r.code, 0);
      assert.ok(!r.out.includes('TOP-SECRET'));
      assert.match(r.err, /Permission denied|permission denied|EACCES/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('-p is forwarded from the host by pasta (the default network), which ends with the container', async (t) => {
    if (why) return t.skip(why);
    if (!existsSync('/usr/bin/pasta')) return t.skip('pasta is missing (apt-get install passt)');
    const tunMode = statSync('/dev/net/tun').mode & 0o777;
    chmodSync('/dev/net/tun', 0o666); // Debian's default; this machine keeps it 0600
    try {
      const port = 20000 + Math.floor(Math.random() * 20000);
      let r = berth(['run', '-d', '--name', 'rl-web', '-p', `127.0.0.1:${port}:80`, 'busybox:latest', 'sh', '-c', 'echo hello-rootless > /index.html; exec httpd -f -p 80 -h /']);
      assert.equal(r.code, 0, r.err);
      let body = '';
      for (let i = 0; i < 50 && !body; i++) {
        try { body = await (await fetch(`http://127.0.0.1:${port}/index.html`)).text(); } catch { await new Promise((res) => setTimeout(res, 100)); }
      }
      assert.equal(body, 'hello-rootless\n', `no answer on 127.0.0.1:${port}; logs: ${berth(['logs', 'rl-web']).out}`);
      r = berth(['exec', 'rl-web', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      assert.match(r.out, /inet /, r.err);
      // ps exits 1 when the user has no process at all
      // this container's pasta only (by its port): one of an earlier test's container may still be ending
      const pastas = () => spawnSync('ps', ['-u', user, '-o', 'args='], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /pasta/.test(l) && l.includes(`${port}:80`));
      assert.equal(pastas().length, 1, spawnSync('ps', ['-u', user, '-o', 'pid,stat,args'], { encoding: 'utf8' }).stdout);
      r = berth(['rm', '-f', 'rl-web']);
      assert.equal(r.code, 0, r.err);
      for (let i = 0; i < 50 && pastas().length; i++) await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual(pastas(), []);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
    } finally {
      berth(['rm', '-f', 'rl-web']);
      chmodSync('/dev/net/tun', tunMode);
    }
  });

  it('--network host and --privileged: the host\'s links; all capabilities, inside the namespace only', (t) => {
    if (why) return t.skip(why);
    let r = berth(['run', '--rm', '--network', 'host', 'busybox:latest', 'sh', '-c', 'ip -o link show lo && ls /sys/class/net']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /lo/);
    r = berth(['run', '--rm', '--privileged', 'busybox:latest', 'sh', '-c', 'mount -t tmpfs t /tmp && echo mounted; head -1 /proc/self/uid_map; touch /sys/kernel/berth-x 2>/dev/null || echo host-sysfs-refused']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.equal(lines[0], 'mounted');
    assert.deepEqual(lines[1]!.trim().split(/\s+/).map(Number), [0, BASE, COUNT]);
    assert.equal(lines[2], 'host-sysfs-refused');
  });

  it('-m, --cpus and --pids-limit are refused with Docker\'s message (no delegated cgroup)', (t) => {
    if (why) return t.skip(why);
    for (const [flag, text] of [['-m', 'memory limit'], ['--cpus', 'CPU CFS scheduler'], ['--pids-limit', 'pids limit']] as const) {
      const r = berth(['run', '--rm', flag, flag === '-m' ? '16m' : flag === '--cpus' ? '0.5' : '10', 'busybox:latest', 'true']);
      assert.notEqual(r.code, 0, flag);
      assert.match(r.err, new RegExp(`${text}.*cgroup is not mounted.*rootless`), r.err);
    }
    berth(['container', 'prune', '-f']);
  });
});

describe('rootless berth without subordinate ids: the single-id fallback', { concurrency: false }, () => {
  const why = missing();
  const user = `brs${Math.random().toString(36).slice(2, 8)}`;
  let home = '', uid = 0, dir = '', made = false;
  const berth = (args: string[]) => {
    const env = ['HOME=' + home, `PATH=${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, 'BERTH_NO_WORKER=1', 'BERTH_BRIDGE=none', 'LANG=C'];
    const r = spawnSync('runuser', ['-u', user, '--', 'env', '-i', ...env, FRONT, ...args], { encoding: 'utf8', timeout: 60_000, cwd: '/tmp' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  before(() => {
    if (why) return;
    execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);
    made = true;
    for (const f of ['/etc/subuid', '/etc/subgid']) execFileSync('sed', ['-i', `/^${user}:/d`, f]); // none at all
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    home = `/home/${user}`;
    dir = mkdtempSync(join(tmpdir(), 'berth-rootless-single-'));
    chmodSync(dir, 0o755);
    busyboxRootfs(join(dir, 'fs'));
    execFileSync('tar', ['-C', join(dir, 'fs'), '--owner=0', '--group=0', '-cf', join(dir, 'root.tar'), '.']);
    // an image with a file of uid 1000: not mappable without ranges
    execFileSync('tar', ['-C', join(dir, 'fs'), '--owner=0', '--group=0', '-cf', join(dir, 'other.tar'), 'bin']);
    execFileSync('tar', ['-C', join(dir, 'fs'), '--owner=1000', '--group=1000', '-rf', join(dir, 'other.tar'), 'home']);
    for (const f of ['root.tar', 'other.tar']) chmodSync(join(dir, f), 0o644);
  });

  after(() => {
    if (!made) return;
    spawnSync('pkill', ['-KILL', '-u', user]);
    spawnSync('userdel', ['-r', '-f', user]);
    rmSync(`/tmp/berth-run-${uid}`, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs an image whose files are all root\'s, root inside = the user, and leaves nothing', (t) => {
    if (why) return t.skip(why);
    let r = berth(['import', join(dir, 'root.tar'), 'busybox:latest']);
    assert.equal(r.code, 0, r.err);
    r = berth(['run', '--rm', 'busybox:latest', 'sh', '-c', 'cat /proc/self/uid_map; echo x > /tmp/f && id -u']);
    assert.equal(r.code, 0, r.err);
    const [map, id] = r.out.trim().split('\n');
    assert.deepEqual(map!.trim().split(/\s+/).map(Number), [0, uid, 1]);
    assert.equal(id, '0');
    assert.equal(berth(['ps', '-aq']).out, '');
    assert.deepEqual(readdirSync(join(home, '.local/share/berth/snapshots/trash')), []);
  });

  it('an image file of another owner is a clear error naming it and how to add ranges', (t) => {
    if (why) return t.skip(why);
    const r = berth(['import', join(dir, 'other.tar'), 'other:latest']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /file home is owned by uid 1000/);
    assert.match(r.err, new RegExp(`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`));
  });
});

describe('rootless id maps', () => {
  it('reads ranges by name or uid, ignoring duplicates', () => {
    const d = mkdtempSync(join(tmpdir(), 'berth-subid-'));
    try {
      writeFileSync(join(d, 'subuid'), 'alice:100000:65536\n1234:200000:1000\nalice:100000:65536\n# x\nbob:1:2\n');
      assert.deepEqual(readSubIds(join(d, 'subuid'), 'alice', 1234), [{ start: 100000, count: 65536 }, { start: 200000, count: 1000 }]);
      assert.deepEqual(readSubIds(join(d, 'nope'), 'alice', 1), []);
    } finally { rmSync(d, { recursive: true, force: true }); }
  });

  it('without ranges: the single-id fallback, and an image file of another owner is an error naming it and the fix', () => {
    const d = mkdtempSync(join(tmpdir(), 'berth-subid-'));
    try {
      writeFileSync(join(d, 'subuid'), '');
      writeFileSync(join(d, 'subgid'), '');
      const ids = rootlessIds({ subuid: join(d, 'subuid'), subgid: join(d, 'subgid') });
      assert.equal(ids.mode, 'single');
      assert.deepEqual(ids.uidMappings, [{ containerID: 0, hostID: process.geteuid!(), size: 1 }]);
      const o = new RootlessOwners(ids).applyOptions();
      o.owner!('/x/etc/passwd', 0, 0, 0o644, 'etc/passwd'); // root-owned: fine
      assert.throws(() => o.owner!('/x/var/mail', 8, 8, 0o755, 'var/mail'), (e: Error) => {
        assert.match(e.message, /file var\/mail is owned by uid 8/);
        assert.ok(e.message.includes(subIdsHint(ids.user)), e.message);
        assert.match(e.message, /usermod --add-subuids 100000-165535 --add-subgids 100000-165535/);
        return true;
      });
    } finally { rmSync(d, { recursive: true, force: true }); }
  });
});
