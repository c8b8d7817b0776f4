/** Test fixture: a busybox root filesystem built from Debian's busybox-static. */
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';

export function haveBusybox(): boolean {
  if (!existsSync(BUSYBOX)) return false;
  try { return execFileSync('file', ['-b', BUSYBOX], { encoding: 'utf8' }).includes('statically linked'); } catch { return true; }
}

/** Populate `dir` with a minimal busybox rootfs (bin/ with applet links, etc, tmp, proc, sys, dev). */
export function busyboxRootfs(dir: string): string {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var', 'home']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    const p = join(dir, 'bin', a);
    if (a !== 'busybox' && !existsSync(p)) symlinkSync('busybox', p);
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\nstaff:x:50:user\n');
  return dir;
}
