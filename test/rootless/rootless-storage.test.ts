/**
 * Rootless storage (issue 17, part 2), as a real unprivileged user through the real CLI: a
 * multi-layer image with deleted files and opaque directories pulled from a registry.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { buildImage, haveRegistry, layerFromDir, pushImageRaw, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeUser, rootlessMissing, type TestUser } from './user-util.js';

/** A layer from files given as { path: content } (a path ending in / is a directory). */
function layer(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rl-layer-'));
  try {
    for (const [p, c] of Object.entries(files)) {
      if (p.endsWith('/')) mkdirSync(join(dir, p), { recursive: true });
      else { mkdirSync(join(dir, p, '..'), { recursive: true }); writeFileSync(join(dir, p), c); }
    }
    chmodSync(dir, 0o755); // the layer's "./" entry: an image root is 0755, not mkdtemp's 0700
    return layerFromDir(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function baseLayer() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rl-base-'));
  try {
    busyboxRootfs(dir);
    for (const [p, c] of Object.entries({ 'data/keep': 'k', 'data/gone': 'g', 'data/gone2': 'g2', 'opq/a': 'a', 'opq/sub/b': 'b' })) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), c);
    }
    chmodSync(dir, 0o755);
    return layerFromDir(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rootless storage as an ordinary user', { concurrency: false }, () => {
  const why = rootlessMissing() ?? (haveRegistry() ? undefined : 'no docker-registry');
  let u: TestUser | undefined;
  let reg: TestRegistry | undefined;
  let image = '';

  before(async () => {
    if (why) return;
    u = makeUser();
    reg = await startRegistry();
    const img = buildImage([
      baseLayer(),
      layer({ 'data/.wh.gone': '', 'opq/.wh..wh..opq': '', 'opq/new': 'n' }),
      layer({ 'data/.wh.gone2': '', 'opq/c': 'c' }),
    ]);
    await pushImageRaw(reg, 'rl/multi', '1', img);
    image = `${reg.host}/rl/multi:1`;
  });

  after(async () => {
    u?.remove();
    await reg?.stop();
  });

  it('pulls a 3-layer image with whiteouts and an opaque directory, and runs it', (t) => {
    if (why) return t.skip(why);
    let r = u!.berth(['pull', '-q', image]);
    assert.equal(r.code, 0, r.err);
    r = u!.berth(['run', '--rm', image, 'sh', '-c', 'ls -A /data; echo --; cd /opq && find . | sort']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'keep\n--\n.\n./c\n./new\n');
    // the driver chosen for this user (overlayfs in the user namespace), shown by info
    r = u!.berth(['info']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Storage Driver: overlay2\n/);
  });

  it('create refuses -m, --cpus and --pids-limit and leaves no Created container', (t) => {
    if (why) return t.skip(why);
    for (const [flag, v, text] of [['-m', '16m', 'memory limit'], ['--cpus', '0.5', 'CPU CFS scheduler'], ['--pids-limit', '10', 'pids limit']] as const) {
      const r = u!.berth(['create', '--name', 'rl-lim', flag, v, image, 'true']);
      assert.notEqual(r.code, 0, flag);
      assert.match(r.err, new RegExp(`${text}.*cgroup is not mounted.*rootless`), r.err);
      assert.equal(u!.berth(['ps', '-aq']).out, '', `${flag}: no container record`);
    }
  });

  it('a named volume is filled from the image (copy-up) and keeps data across containers', (t) => {
    if (why) return t.skip(why);
    let r = u!.berth(['run', '--rm', '-v', 'rlvol:/data', image, 'sh', '-c', 'ls -A /data; echo v1 > /data/new; id -u; stat -c %u /data/new']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'keep\n0\n0\n');
    r = u!.berth(['run', '--rm', '-v', 'rlvol:/v', image, 'cat', '/v/new', '/v/keep']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'v1\nk');
    r = u!.berth(['volume', 'rm', 'rlvol']);
    assert.equal(r.code, 0, r.err);
  });

  const files = () => {
    if (u!.berth(['inspect', 'rl-files']).code === 0) return;
    const r = u!.berth(['run', '--name', 'rl-files', image, 'sh', '-c', 'echo made > /made; rm /data/keep']);
    assert.equal(r.code, 0, r.err);
  };

  it('diff of a stopped container', (t) => {
    if (why) return t.skip(why);
    files();
    const r = u!.berth(['diff', 'rl-files']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').sort();
    for (const l of ['A /made', 'C /data', 'D /data/keep']) assert.ok(lines.includes(l), `${l} in ${r.out}`);
  });

  it('cp out of a stopped container', (t) => {
    if (why) return t.skip(why);
    files();
    const r = u!.berth(['cp', 'rl-files:/made', '-']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /made\n/);
  });

  it('cp into a stopped container', (t) => {
    if (why) return t.skip(why);
    files();
    u!.sh('echo from-host > /tmp/rl-in-$(id -u)');
    let r = u!.berth(['cp', `/tmp/rl-in-${u!.uid}`, 'rl-files:/in']);
    assert.equal(r.code, 0, r.err);
    r = u!.berth(['start', '-a', 'rl-files']);
    r = u!.berth(['cp', 'rl-files:/in', '-']);
    assert.match(r.out, /from-host\n/);
    // the user's file is the container root's (as in podman), stored under the first subordinate id
    assert.match(r.out, /^in\0/);
    assert.equal(parseInt(r.out.slice(108, 115), 8), 0, `uid of /in in the archive: ${JSON.stringify(r.out.slice(100, 124))}`);
  });

  it('cp of a missing path names it; no mount, process or directory is left behind', (t) => {
    if (why) return t.skip(why);
    files();
    let r = u!.berth(['cp', 'rl-files:/no/such', '-']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /Could not find the file \/no\/such in container rl-files/);
    r = u!.berth(['cp', `/tmp/nonexistent-${u!.uid}`, 'rl-files:/']);
    assert.notEqual(r.code, 0);
    r = u!.berth(['export', 'nosuch']);
    assert.match(r.err, /No such container: nosuch/);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(u!.home), `no mount under ${u!.home} on the host`);
    assert.equal(u!.sh('ps -u $(id -u) -o args= | grep "[_]_rootless-storage" || true').out, '', 'no storage process left');
    assert.equal(u!.sh('ls /tmp/berth-run-$(id -u)/berth | grep -E "^(view|copyup)-" || true').out, '', 'no view directory left');
  });

  it('cp in and out of a stopped container\'s volume; a read-only one is refused', (t) => {
    if (why) return t.skip(why);
    let r = u!.berth(['run', '--name', 'rl-vc', '-v', 'rlv2:/v', '-v', 'rlv3:/ro:ro', image, 'sh', '-c', 'echo in-vol > /v/f; mkdir /v/sub; echo s > /v/sub/s; chmod 700 /v/sub']);
    assert.equal(r.code, 0, r.err);
    try {
      r = u!.berth(['cp', 'rl-vc:/v/f', '-']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /in-vol\n/);
      u!.sh('echo to-vol > /tmp/rl-tv-$(id -u)');
      r = u!.berth(['cp', `/tmp/rl-tv-${u!.uid}`, 'rl-vc:/v/g']);
      assert.equal(r.code, 0, r.err);
      r = u!.berth(['run', '--rm', '-v', 'rlv2:/v', image, 'sh', '-c', 'cat /v/g; stat -c %u /v/g']);
      assert.equal(r.out, 'to-vol\n0\n');
      r = u!.berth(['cp', `/tmp/rl-tv-${u!.uid}`, 'rl-vc:/ro/g']);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /mounted volume is marked read-only/);
    } finally {
      u!.berth(['rm', '-f', 'rl-vc']);
    }
    r = u!.berth(['volume', 'rm', 'rlv3']);
    assert.equal(r.code, 0, r.err);
    // a directory of the container's ids the user cannot read or empty: removed in the storage namespace
    r = u!.berth(['volume', 'prune', '-a', '-f']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /rlv2/);
    assert.equal(u!.sh(`ls -A ${u!.dataRoot}/volumes`).out, '');
  });

  it('export of a stopped container', (t) => {
    if (why) return t.skip(why);
    files();
    let r = u!.berth(['export', '-o', `/tmp/rl-exp-${u!.uid}.tar`, 'rl-files']);
    assert.equal(r.code, 0, r.err);
    r = u!.sh(`tar -tf /tmp/rl-exp-${u!.uid}.tar | grep -E '^(\\./)?(made|data/keep)$' | sed 's#^\\./##' | sort; rm -f /tmp/rl-exp-${u!.uid}.tar`);
    assert.equal(r.out, 'made\n');
  });

  it('commit of a stopped container', (t) => {
    if (why) return t.skip(why);
    files();
    let r = u!.berth(['commit', 'rl-files', 'rl-committed:1']);
    assert.equal(r.code, 0, r.err);
    r = u!.berth(['run', '--rm', 'rl-committed:1', 'sh', '-c', 'cat /made; ls -A /data; ls /opq']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'made\nc\nnew\n');
  });

  it('cp in and out of a running container', (t) => {
    if (why) return t.skip(why);
    let r = u!.berth(['run', '-d', '--name', 'rl-cpr', image, 'sleep', '60']);
    assert.equal(r.code, 0, r.err);
    try {
      u!.sh('echo live > /tmp/rl-live-$(id -u)');
      r = u!.berth(['cp', `/tmp/rl-live-${u!.uid}`, 'rl-cpr:/live']);
      assert.equal(r.code, 0, r.err);
      r = u!.berth(['exec', 'rl-cpr', 'sh', '-c', 'cat /live; stat -c %u /live']);
      assert.equal(r.out, 'live\n0\n');
      r = u!.berth(['cp', 'rl-cpr:/data/keep', '-']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /k/);
      // export of a running container: its snapshot, with what it wrote
      r = u!.berth(['export', '-o', `/tmp/rl-expr-${u!.uid}.tar`, 'rl-cpr']);
      assert.equal(r.code, 0, r.err);
      r = u!.sh(`tar -xOf /tmp/rl-expr-${u!.uid}.tar ./live 2>/dev/null || tar -xOf /tmp/rl-expr-${u!.uid}.tar live; rm -f /tmp/rl-expr-${u!.uid}.tar`);
      assert.equal(r.out, 'live\n');
    } finally {
      u!.berth(['rm', '-f', 'rl-cpr']);
    }
  });

  it('--userns keep-id: the user\'s own ids inside, a file written to a bind mount is the user\'s', (t) => {
    if (why) return t.skip(why);
    u!.sh('mkdir -p $HOME/kid');
    const r = u!.berth(['run', '--rm', '--userns', 'keep-id', '-v', `${u!.home}/kid:/kid`, image, 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map; touch /kid/f; ls /opq']);
    assert.equal(r.code, 0, r.err);
    const [id, gid, ...rest] = r.out.trim().split('\n');
    assert.equal(Number(id), u!.uid);
    assert.equal(Number(gid), Number(u!.sh('id -g').out.trim()));
    const maps = rest.slice(0, 3).map((l) => l.trim().split(/\s+/).map(Number));
    assert.deepEqual(maps, [[0, u!.base, u!.uid], [u!.uid, u!.uid, 1], [u!.uid + 1, u!.base + u!.uid, 65536 - u!.uid]]);
    assert.deepEqual(rest.slice(3), ['c', 'new']);
    assert.equal(u!.sh('stat -c %u $HOME/kid/f').out.trim(), String(u!.uid));
  });
});
