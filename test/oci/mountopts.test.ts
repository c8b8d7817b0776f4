import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../src/oci/index.js';
import { knownMountOptions, parseMountOptions } from '../../src/oci/index.js';

const P = parseMountOptions;

test('single flag options (set / clear)', () => {
  const table: [string, number, number][] = [
    ['ro', C.MS_RDONLY, 0], ['rw', 0, C.MS_RDONLY],
    ['nosuid', C.MS_NOSUID, 0], ['suid', 0, C.MS_NOSUID],
    ['nodev', C.MS_NODEV, 0], ['dev', 0, C.MS_NODEV],
    ['noexec', C.MS_NOEXEC, 0], ['exec', 0, C.MS_NOEXEC],
    ['sync', C.MS_SYNCHRONOUS, 0], ['async', 0, C.MS_SYNCHRONOUS],
    ['dirsync', C.MS_DIRSYNC, 0], ['remount', C.MS_REMOUNT, 0],
    ['mand', C.MS_MANDLOCK, 0], ['nomand', 0, C.MS_MANDLOCK],
    ['noatime', C.MS_NOATIME, 0], ['atime', 0, C.MS_NOATIME],
    ['nodiratime', C.MS_NODIRATIME, 0], ['diratime', 0, C.MS_NODIRATIME],
    ['relatime', C.MS_RELATIME, 0], ['norelatime', 0, C.MS_RELATIME],
    ['strictatime', C.MS_STRICTATIME, 0], ['nostrictatime', 0, C.MS_STRICTATIME],
    ['lazytime', C.MS_LAZYTIME, 0], ['nolazytime', 0, C.MS_LAZYTIME],
    ['iversion', C.MS_I_VERSION, 0], ['noiversion', 0, C.MS_I_VERSION],
    ['nosymfollow', C.MS_NOSYMFOLLOW, 0], ['symfollow', 0, C.MS_NOSYMFOLLOW],
    ['silent', C.MS_SILENT, 0], ['loud', 0, C.MS_SILENT],
    ['bind', C.MS_BIND, 0], ['rbind', C.MS_BIND | C.MS_REC, 0],
  ];
  for (const [opt, flags, clearFlags] of table) {
    const r = P([opt]);
    assert.equal(r.flags, flags, opt);
    assert.equal(r.clearFlags, clearFlags, opt);
    assert.equal(r.data, '', opt);
    assert.deepEqual(r.propagation, [], opt);
  }
});

test('later options override earlier ones', () => {
  assert.deepEqual([P(['ro', 'rw']).flags, P(['ro', 'rw']).clearFlags], [0, C.MS_RDONLY]);
  assert.deepEqual([P(['rw', 'ro']).flags, P(['rw', 'ro']).clearFlags], [C.MS_RDONLY, 0]);
  // as runc, the atime options only touch their own bit
  assert.equal(P(['noatime', 'relatime']).flags, C.MS_NOATIME | C.MS_RELATIME);
});

test('propagation options are kept in order', () => {
  assert.deepEqual(P(['rprivate', 'shared', 'rslave', 'unbindable', 'runbindable', 'private', 'slave', 'rshared']).propagation, [
    C.MS_PRIVATE | C.MS_REC, C.MS_SHARED, C.MS_SLAVE | C.MS_REC, C.MS_UNBINDABLE, C.MS_UNBINDABLE | C.MS_REC, C.MS_PRIVATE, C.MS_SLAVE,
    C.MS_SHARED | C.MS_REC,
  ]);
});

test('recursive mount_setattr attributes', () => {
  assert.deepEqual([P(['rro']).recAttrSet, P(['rro']).recAttrClr], [C.MOUNT_ATTR_RDONLY, 0]);
  assert.deepEqual([P(['rro', 'rrw']).recAttrSet, P(['rro', 'rrw']).recAttrClr], [0, C.MOUNT_ATTR_RDONLY]);
  const r = P(['rnosuid', 'rnodev', 'rnoexec', 'rnodiratime', 'rnosymfollow']);
  assert.equal(r.recAttrSet, C.MOUNT_ATTR_NOSUID | C.MOUNT_ATTR_NODEV | C.MOUNT_ATTR_NOEXEC | C.MOUNT_ATTR_NODIRATIME | C.MOUNT_ATTR_NOSYMFOLLOW);
  assert.equal(r.recAttrClr, 0);
  assert.equal(r.flags, 0);
  const c = P(['rsuid', 'rdev', 'rexec', 'rdiratime', 'rsymfollow', 'ratime', 'rnorelatime', 'rnostrictatime']);
  assert.equal(c.recAttrSet, 0);
  assert.equal(c.recAttrClr, C.MOUNT_ATTR_NOSUID | C.MOUNT_ATTR_NODEV | C.MOUNT_ATTR_NOEXEC | C.MOUNT_ATTR_NODIRATIME
    | C.MOUNT_ATTR_NOSYMFOLLOW | C.MOUNT_ATTR_NOATIME | C.MOUNT_ATTR_STRICTATIME);
  // setting an atime mode also clears the whole atime field (mount_setattr(2))
  assert.deepEqual([P(['rnoatime']).recAttrSet, P(['rnoatime']).recAttrClr], [C.MOUNT_ATTR_NOATIME, C.MOUNT_ATTR__ATIME]);
  assert.deepEqual([P(['rstrictatime']).recAttrSet, P(['rstrictatime']).recAttrClr], [C.MOUNT_ATTR_STRICTATIME, C.MOUNT_ATTR__ATIME]);
  assert.deepEqual([P(['rrelatime']).recAttrSet, P(['rrelatime']).recAttrClr], [0, C.MOUNT_ATTR__ATIME]);
});

test('extensions and data', () => {
  assert.deepEqual(P(['tmpcopyup']).extensions, { tmpcopyup: true, idmap: null });
  assert.deepEqual(P(['idmap']).extensions, { tmpcopyup: false, idmap: { recursive: false } });
  assert.deepEqual(P(['idmap', 'ridmap']).extensions.idmap, { recursive: true });
  assert.equal(P(['tmpcopyup', 'idmap']).data, '');
  const r = P(['nosuid', 'strictatime', 'mode=755', 'size=65536k', 'defaults']);
  assert.equal(r.flags, C.MS_NOSUID | C.MS_STRICTATIME);
  assert.equal(r.data, 'mode=755,size=65536k');
  assert.equal(P(['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']).data, 'newinstance,ptmxmode=0666,mode=0620,gid=5');
  assert.equal(P(['lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w', 'userxattr']).data, 'lowerdir=/a:/b,upperdir=/u,workdir=/w,userxattr');
  assert.equal(P(['constructor', 'toString']).data, 'constructor,toString');
  const empty = P(undefined);
  assert.deepEqual(empty, { flags: 0, clearFlags: 0, propagation: [], data: '', recAttrSet: 0, recAttrClr: 0, extensions: { tmpcopyup: false, idmap: null } });
});

test('the example mounts of runc spec', () => {
  const sys = P(['nosuid', 'noexec', 'nodev', 'ro']);
  assert.equal(sys.flags, C.MS_NOSUID | C.MS_NOEXEC | C.MS_NODEV | C.MS_RDONLY);
  const rsys = P(['rbind', 'nosuid', 'noexec', 'nodev', 'ro']);
  assert.equal(rsys.flags, C.MS_BIND | C.MS_REC | C.MS_NOSUID | C.MS_NOEXEC | C.MS_NODEV | C.MS_RDONLY);
  const cg = P(['nosuid', 'noexec', 'nodev', 'relatime', 'ro']);
  assert.equal(cg.flags, C.MS_NOSUID | C.MS_NOEXEC | C.MS_NODEV | C.MS_RELATIME | C.MS_RDONLY);
});

test('knownMountOptions lists what runc features lists (no acl), plus idmap, ridmap and defaults', () => {
  const runc = ['async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'iversion', 'lazytime', 'loud', 'mand',
    'noatime', 'nodev', 'nodiratime', 'noexec', 'noiversion', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime', 'nosuid',
    'nosymfollow', 'private', 'ratime', 'rbind', 'rdev', 'rdiratime', 'relatime', 'remount', 'rexec', 'rnoatime', 'rnodev',
    'rnodiratime', 'rnoexec', 'rnorelatime', 'rnostrictatime', 'rnosuid', 'rnosymfollow', 'ro', 'rprivate', 'rrelatime', 'rro',
    'rrw', 'rshared', 'rslave', 'rstrictatime', 'rsuid', 'rsymfollow', 'runbindable', 'rw', 'shared', 'silent', 'slave',
    'strictatime', 'suid', 'symfollow', 'sync', 'tmpcopyup', 'unbindable'];
  assert.deepEqual(knownMountOptions(), [...runc, 'idmap', 'ridmap'].sort());
});
