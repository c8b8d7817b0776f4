/**
 * Rootless storage through fuse-overlayfs (issue 17), as a real unprivileged user through the real
 * CLI with the driver forced (BERTH_STORAGE_DRIVER=fuse-overlayfs; this kernel mounts overlayfs
 * in a user namespace, so auto would pick overlay): info shows it, a container's writes land in
 * its upper directory with the container's owners, a deleted image file is a whiteout there,
 * diff and commit read it, and stop/rm leave no fuse-overlayfs process, mount or directory; the
 * same without subordinate ids and with --userns keep-id; and forced for root.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants as fsc, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { busyboxRootfs, haveBusybox } from '../helpers/rootfs.js';
import { FRONT } from '../helpers/worker.js';
import { makeUser, rootlessMissing, type TestUser } from './user-util.js';

const FUSE_OVERLAYFS = '/usr/bin/fuse-overlayfs';
const ENV = ['BERTH_STORAGE_DRIVER=fuse-overlayfs'];

function fuseMissing(): string | undefined {
  try { accessSync(FUSE_OVERLAYFS, fsc.X_OK); } catch { return `${FUSE_OVERLAYFS} is missing (Debian package fuse-overlayfs)`; }
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  return undefined;
}

/** fuse-overlayfs processes serving this user's storage (whatever id they run as). */
function fuseProcs(home: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd: string[];
    try { cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (cmd[0] === FUSE_OVERLAYFS && cmd.some((a) => a.includes(home))) out.push(Number(p));
  }
  return out;
}

/** Mounts on the host under this user's directories. */
function hostMounts(u: TestUser): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(u.home) || l.includes(`/berth-run-${u.uid}/`));
}

/** Host paths named `name` under the user's snapshots (as root: the files belong to subordinate ids). */
function findInSnapshots(u: TestUser, rel: string): string[] {
  const root = join(u.dataRoot, 'snapshots', 'snapshots');
  if (!existsSync(root)) return [];
  return readdirSync(root).map((id) => join(root, id, 'fs', rel)).filter((p) => { try { lstatSync(p); return true; } catch { return false; } });
}

describe('rootless storage through fuse-overlayfs', { concurrency: false }, () => {
  const why = rootlessMissing() ?? fuseMissing();
  let u: TestUser | undefined;
  let tarDir = '';
  let fuseMode = -1;
  const berth = (args: string[]) => u!.berth(args, { env: ENV });

  before(() => {
    if (why) return;
    fuseMode = statSync('/dev/fuse').mode & 0o777;
    chmodSync('/dev/fuse', 0o666); // Debian's default; this machine keeps it 0600
    u = makeUser('brf');
    tarDir = mkdtempSync(join(tmpdir(), 'berth-rl-fuse-'));
    chmodSync(tarDir, 0o755);
    const fs = join(tarDir, 'fs');
    busyboxRootfs(fs);
    for (const [p, c] of Object.entries({ 'data/keep': 'k', 'data/gone': 'g', 'opq/a': 'a' })) {
      mkdirSync(join(fs, p, '..'), { recursive: true });
      writeFileSync(join(fs, p), c);
    }
    execFileSync('tar', ['-C', fs, '--owner=0', '--group=0', '-cf', join(tarDir, 'img.tar'), '.']);
    chmodSync(join(tarDir, 'img.tar'), 0o644);
    const r = berth(['import', join(tarDir, 'img.tar'), 'fz:1']);
    assert.equal(r.code, 0, r.err);
  });

  after(() => {
    if (u) {
      berth(['rm', '-f', 'fz-d']);
      u.remove();
    }
    if (tarDir) rmSync(tarDir, { recursive: true, force: true });
    if (fuseMode >= 0) chmodSync('/dev/fuse', fuseMode);
  });

  it('info shows the fuse-overlayfs driver', (t) => {
    if (why) return t.skip(why);
    const r = berth(['info']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Storage Driver: fuse-overlayfs\n/);
  });

  it('the probe auto uses after overlay: a fuse-overlayfs mount in a user namespace of the user\'s', (t) => {
    if (why) return t.skip(why);
    const mod = join(import.meta.dirname, '../../src/snapshots/rootless.js');
    const script = `import("${mod}").then((m) => { console.log(JSON.stringify(m.probeRootlessFuseOverlay("."))); console.log(require("fs").readdirSync(".").filter((n) => n.startsWith("rootless-")).length); })`;
    const r = u!.sh(`cd ${u!.home} && node -e '${script}'`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '{"ok":true}\n0\n', 'ok, and its directory removed');
    assert.deepEqual(fuseProcs(u!.home), []);
  });

  it('run --rm through fuse-overlayfs, and nothing is left', (t) => {
    if (why) return t.skip(why);
    const r = berth(['run', '--rm', 'fz:1', 'sh', '-c', 'echo hi > /f; cat /f /data/keep; id -u; stat -c %u /f; grep -c " / / .* - fuse" /proc/self/mountinfo']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'hi\nk0\n0\n1\n');
    assert.deepEqual(fuseProcs(u!.home), []);
    assert.deepEqual(hostMounts(u!), []);
  });

  it('--userns keep-id: the user\'s own id inside writes through fuse-overlayfs', (t) => {
    if (why) return t.skip(why);
    const r = berth(['run', '--rm', '--userns', 'keep-id', 'fz:1', 'sh', '-c', 'id -u; echo y > /tmp/k && stat -c %u /tmp/k']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${u!.uid}\n${u!.uid}\n`);
    assert.deepEqual(fuseProcs(u!.home), []);
  });

  it('fuse-overlayfs\'s own .wh. whiteouts: diff and commit read them', (t) => {
    if (why) return t.skip(why);
    // fuse-overlayfs makes these where it cannot make 0/0 devices; its switch makes it here
    const env = [...ENV, 'FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT=1'];
    let r = u!.berth(['run', '--name', 'fz-wh', 'fz:1', 'sh', '-c', 'rm /data/gone; rm -r /opq; mkdir /opq; echo n > /opq/new; echo w > /w'], { env });
    assert.equal(r.code, 0, r.err);
    const upper = join(findInSnapshots(u!, 'w')[0]!, '..');
    assert.ok(lstatSync(join(upper, 'data', '.wh.gone')).isFile(), 'a .wh. file');
    assert.ok(!existsSync(join(upper, 'data', 'gone')));
    r = berth(['diff', 'fz-wh']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    for (const l of ['A /w', 'C /data', 'D /data/gone', 'C /opq', 'A /opq/new']) assert.ok(lines.includes(l), `${l} in ${r.out}`);
    assert.ok(!lines.some((l) => l.includes('.wh.')), r.out);
    r = berth(['commit', 'fz-wh', 'fz:wh']);
    assert.equal(r.code, 0, r.err);
    r = berth(['run', '--rm', 'fz:wh', 'sh', '-c', 'ls -A /data; ls -A /opq']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'keep\nnew\n');
    assert.equal(berth(['rm', 'fz-wh']).code, 0);
    assert.deepEqual(fuseProcs(u!.home), []);
  });

  it('a running container writes to its upper dir; diff, commit; stop and rm leave nothing', (t) => {
    if (why) return t.skip(why);
    let r = berth(['run', '-d', '--name', 'fz-d', 'fz:1', 'sh', '-c', 'echo made > /made; rm /data/gone; rm -r /opq; mkdir /opq; echo n > /opq/new; touch /ready; sleep 300']);
    assert.equal(r.code, 0, r.err);
    for (let i = 0; i < 100 && berth(['exec', 'fz-d', 'test', '-e', '/ready']).code !== 0; i++) execFileSync('sleep', ['0.1']);
    // served by one fuse-overlayfs, outside the container (not in its pid namespace)
    assert.equal(fuseProcs(u!.home).length, 1);
    r = berth(['exec', 'fz-d', 'sh', '-c', 'ps -o comm | grep -c fuse-overlayfs; stat -c %u /made']);
    assert.equal(r.out, '0\n0\n', r.err);
    // the writes are in the container's upper dir, owned by its root (the first subordinate id)
    const made = findInSnapshots(u!, 'made');
    assert.equal(made.length, 1, 'one upper dir holds /made');
    assert.equal(readFileSync(made[0]!, 'utf8'), 'made\n');
    assert.equal(statSync(made[0]!).uid, u!.base);
    // the deleted image file is a whiteout there: a 0/0 device or fuse-overlayfs's .wh. file
    const upper = join(made[0]!, '..');
    const wh = lstatSync(join(upper, 'data', existsSync(join(upper, 'data', '.wh.gone')) ? '.wh.gone' : 'gone'));
    assert.ok(wh.isFile() || (wh.isCharacterDevice() && wh.rdev === 0), 'data/gone is whited out');
    t.diagnostic(`whiteout: ${wh.isFile() ? '.wh. file' : '0/0 device'}`);

    // cp reaches it in the container's namespaces; export mounts it again, read-only
    r = berth(['cp', 'fz-d:/made', '-']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /made\n/);
    const tarPath = `/tmp/fz-exp-${u!.uid}.tar`;
    r = berth(['export', '-o', tarPath, 'fz-d']);
    assert.equal(r.code, 0, r.err);
    r = u!.sh(`tar -tf ${tarPath} | sed 's#^\\./##' | grep -E '^(made|data/gone|data/keep|opq/new|opq/a)$' | sort; rm -f ${tarPath}`);
    assert.equal(r.out, 'data/keep\nmade\nopq/new\n');
    assert.equal(fuseProcs(u!.home).length, 1, 'the export\'s fuse-overlayfs is gone');
    r = berth(['exec', 'fz-d', 'sh', '-c', 'echo later > /later && cat /later']);
    assert.equal(r.out, 'later\n', r.err);

    r = berth(['diff', 'fz-d']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    for (const l of ['A /made', 'C /data', 'D /data/gone', 'C /opq', 'A /opq/new']) assert.ok(lines.includes(l), `${l} in ${r.out}`);
    assert.ok(!lines.some((l) => l.includes('.wh.')), r.out);

    r = berth(['commit', '--pause=false', 'fz-d', 'fz:2']); // rootless without a cgroup cannot freeze
    assert.equal(r.code, 0, r.err);
    r = berth(['run', '--rm', 'fz:2', 'sh', '-c', 'cat /made; ls -A /data; ls -A /opq']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'made\nkeep\nnew\n');

    r = berth(['stop', '-t', '1', 'fz-d']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(fuseProcs(u!.home), [], 'fuse-overlayfs ends with the container');
    // stopped: diff reads the upper dir
    r = berth(['diff', 'fz-d']);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.split('\n').includes('D /data/gone'), r.out);
    // stopped: cp mounts it again in a storage process of its own (which unmounts it: fuse-overlayfs ends)
    r = berth(['cp', 'fz-d:/made', '-']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /made\n/);
    r = berth(['cp', 'fz-d:/data/gone', '-']);
    assert.notEqual(r.code, 0, 'a deleted file stays deleted');
    assert.deepEqual(fuseProcs(u!.home), []);

    const id = berth(['inspect', '-f', '{{.Id}}', 'fz-d']).out.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    r = berth(['rm', 'fz-d']);
    assert.equal(r.code, 0, r.err);
    assert.ok(!existsSync(join(upper, '..')), 'the container\'s snapshot is gone');
    assert.deepEqual(fuseProcs(u!.home), []);
    assert.deepEqual(hostMounts(u!), []);
    assert.ok(!existsSync(join(`/tmp/berth-run-${u!.uid}/berth`, id)), 'no run directory left');
  });
});

describe('rootless fuse-overlayfs without subordinate ids (the single-id fallback)', { concurrency: false }, () => {
  const why = rootlessMissing() ?? fuseMissing();
  let u: TestUser | undefined;
  let tarDir = '';
  let fuseMode = -1;

  before(() => {
    if (why) return;
    fuseMode = statSync('/dev/fuse').mode & 0o777;
    chmodSync('/dev/fuse', 0o666);
    u = makeUser('brg');
    for (const f of ['/etc/subuid', '/etc/subgid']) execFileSync('sed', ['-i', `/^${u.name}:/d`, f]); // none at all
    tarDir = mkdtempSync(join(tmpdir(), 'berth-rl-fuse1-'));
    chmodSync(tarDir, 0o755);
    busyboxRootfs(join(tarDir, 'fs'));
    execFileSync('tar', ['-C', join(tarDir, 'fs'), '--owner=0', '--group=0', '-cf', join(tarDir, 'img.tar'), '.']);
    chmodSync(join(tarDir, 'img.tar'), 0o644);
  });

  after(() => {
    u?.remove();
    if (tarDir) rmSync(tarDir, { recursive: true, force: true });
    if (fuseMode >= 0) chmodSync('/dev/fuse', fuseMode);
  });

  it('runs through fuse-overlayfs as the user\'s only id, and leaves nothing', (t) => {
    if (why) return t.skip(why);
    let r = u!.berth(['import', join(tarDir, 'img.tar'), 'bb:1'], { env: ENV });
    assert.equal(r.code, 0, r.err);
    r = u!.berth(['run', '--name', 'fz1', 'bb:1', 'sh', '-c', 'echo x > /f && cat /f && id -u && grep -c " / / .* - fuse" /proc/self/mountinfo'], { env: ENV });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'x\n0\n1\n');
    const f = findInSnapshots(u!, 'f');
    assert.equal(f.length, 1);
    assert.equal(statSync(f[0]!).uid, u!.uid);
    assert.equal(u!.berth(['rm', 'fz1'], { env: ENV }).code, 0);
    assert.deepEqual(fuseProcs(u!.home), []);
    assert.deepEqual(hostMounts(u!), []);
  });
});

describe('fuse-overlayfs forced for root (mounted on the host, unmounted at teardown)', { concurrency: false }, () => {
  const why = process.geteuid!() !== 0 ? 'needs root' : !haveBusybox() ? 'no busybox' : fuseMissing();
  let dir = '';
  const berth = (args: string[]) => {
    const env = { ...process.env, BERTH_ROOT: join(dir, 'root'), BERTH_RUN_ROOT: join(dir, 'run'), BERTH_BRIDGE: 'none', BERTH_NO_WORKER: '1', BERTH_STORAGE_DRIVER: 'fuse-overlayfs' };
    const r = spawnSync(FRONT, args, { encoding: 'utf8', env, timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  before(() => {
    if (why) return;
    dir = mkdtempSync(join(tmpdir(), 'berth-fuse-root-'));
    busyboxRootfs(join(dir, 'fs'));
    execFileSync('tar', ['-C', join(dir, 'fs'), '--owner=0', '--group=0', '-cf', join(dir, 'img.tar'), '.']);
  });

  after(() => {
    if (!dir) return;
    berth(['rm', '-f', 'fzr']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('run, diff with a deleted image file, rm: no process or mount left', (t) => {
    if (why) return t.skip(why);
    let r = berth(['import', join(dir, 'img.tar'), 'bb:1']);
    assert.equal(r.code, 0, r.err);
    r = berth(['run', '--name', 'fzr', 'bb:1', 'sh', '-c', 'echo hi > /f; rm /bin/ls; cat /f; grep -c " / / .* - fuse" /proc/self/mountinfo']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'hi\n1\n');
    r = berth(['diff', 'fzr']);
    assert.equal(r.code, 0, r.err);
    for (const l of ['A /f', 'C /bin', 'D /bin/ls']) assert.ok(r.out.split('\n').includes(l), `${l} in ${r.out}`);
    assert.equal(berth(['rm', 'fzr']).code, 0);
    assert.deepEqual(fuseProcs(dir), []);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(dir), 'no mount left');
  });
});
