/** Fixtures for the spec builder tests: a small rootfs with passwd/group, busybox's image config. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageConfig } from '../../src/oci/index.js';
import type { SpecContext } from '../../src/engine/spec/index.js';

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
  'user:x:1000:1000:user:/home/user:/bin/sh',
  '',
].join('\n');

export const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'wheel:x:10:root,user',
  'staff:x:50:user',
  'users:x:100:',
  'nogroup:x:65534:',
  'user:x:1000:',
  '',
].join('\n');

export const BUSYBOX: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
  rootfs: { type: 'layers', diff_ids: [] },
};

export const ID = 'c0ffee'.padEnd(64, '0');

export interface Fixture { dir: string; rootfs: string; ctx: SpecContext; cleanup(): void }

/** A temp dir with rootfs/ (etc/passwd, etc/group) and the network files; caller calls cleanup(). */
export function fixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'berth-spec-'));
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), PASSWD);
  writeFileSync(join(rootfs, 'etc/group'), GROUP);
  for (const f of ['hosts', 'resolv.conf', 'hostname']) writeFileSync(join(dir, f), `${f}\n`);
  writeFileSync(join(dir, 'docker-init'), '');
  const ctx: SpecContext = {
    rootfs, id: ID, hostsFile: join(dir, 'hosts'), resolvFile: join(dir, 'resolv.conf'), hostnameFile: join(dir, 'hostname'),
    cgroupParent: '/berth', kernel: [6, 18], arch: 'amd64', initPath: join(dir, 'docker-init'), hostHostname: 'thehost', ncpu: 2,
  };
  return { dir, rootfs, ctx, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
