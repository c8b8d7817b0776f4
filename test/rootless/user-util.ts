/**
 * A real unprivileged user for rootless tests (useradd, a subordinate range of its own) and the
 * CLI (dist/berth, BERTH_NO_WORKER=1) run as that user with runuser.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { busyboxRootfs, haveBusybox } from '../helpers/rootfs.js';
import { FRONT } from '../helpers/worker.js';

export const COUNT = 65536;

export function rootlessMissing(): string | undefined {
  if (process.geteuid!() !== 0) return 'needs root to create a user';
  for (const b of ['/usr/sbin/useradd', '/usr/bin/newuidmap', '/usr/bin/newgidmap', '/usr/sbin/runuser', '/usr/bin/unshare']) if (!existsSync(b)) return `${b} is missing`;
  if (!haveBusybox()) return 'no busybox';
  if (spawnSync('unshare', ['--user', '--map-root-user', 'true']).status !== 0) return 'unprivileged user namespaces are disabled';
  return undefined;
}

export interface TestUser {
  name: string; uid: number; home: string; base: number;
  berth(args: string[], opts?: { timeout?: number; env?: string[]; input?: string }): { code: number | null; out: string; err: string };
  /** run a shell command as the user */
  sh(cmd: string): { code: number | null; out: string; err: string };
  dataRoot: string;
  remove(): void;
}

export function makeUser(prefix = 'brs'): TestUser {
  const base = 300000 + Math.floor(Math.random() * 100) * 70000;
  const name = `${prefix}${Math.random().toString(36).slice(2, 8)}`;
  execFileSync('useradd', ['-m', '-s', '/bin/sh', name]);
  for (const f of ['/etc/subuid', '/etc/subgid']) execFileSync('sed', ['-i', `/^${name}:/d`, f]);
  execFileSync('usermod', ['--add-subuids', `${base}-${base + COUNT - 1}`, '--add-subgids', `${base}-${base + COUNT - 1}`, name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const home = `/home/${name}`;
  const env = ['HOME=' + home, `PATH=${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, 'BERTH_NO_WORKER=1', 'BERTH_BRIDGE=none', 'LANG=C'];
  const clean = (s: string) => s.split('\n').filter((l) => !l.startsWith('WARNING: XDG_RUNTIME_DIR')).join('\n');
  const run = (argv: string[], o: { timeout?: number; env?: string[]; input?: string } = {}) => {
    const r = spawnSync('runuser', ['-u', name, '--', 'env', '-i', ...env, ...(o.env ?? []), ...argv], { encoding: 'utf8', timeout: o.timeout ?? 90_000, cwd: '/tmp', input: o.input });
    return { code: r.status, out: r.stdout, err: clean(r.stderr ?? '') };
  };
  return {
    name, uid, home, base, dataRoot: join(home, '.local/share/berth'),
    berth: (args, o) => run([FRONT, ...args], o),
    sh: (cmd) => run(['sh', '-c', cmd]),
    remove() {
      spawnSync('pkill', ['-KILL', '-u', name]); // only the processes of the user this test made
      spawnSync('userdel', ['-r', '-f', name]);
      rmSync(`/tmp/berth-run-${uid}`, { recursive: true, force: true });
      for (const f of ['/etc/subuid', '/etc/subgid']) spawnSync('sed', ['-i', `/^${name}:/d`, f]);
    },
  };
}

/** A directory any user can read holding busybox.tar (a busybox rootfs, files owned by root), for `import`. */
export function busyboxTarDir(prefix: string): { dir: string; tar: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  busyboxRootfs(join(dir, 'fs'));
  const tar = join(dir, 'busybox.tar');
  execFileSync('tar', ['-C', join(dir, 'fs'), '--owner=0', '--group=0', '-cf', tar, '.']);
  chmodSync(tar, 0o644);
  return { dir, tar };
}

/** Why a rootless network test cannot run: a missing program, no /dev/net/tun, or rootlessMissing(). */
export function netMissing(...programs: string[]): string | undefined {
  for (const p of programs) if (!existsSync(p)) return `${p} is missing`;
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return rootlessMissing();
}

/**
 * A test user for a file of network tests, with busybox:latest imported and /dev/net/tun opened
 * to all users (Debian's default 0666; this machine keeps it 0600). `done()` puts it all back.
 */
export function netUser(prefix: string): { user: TestUser; done(): void } {
  const tunMode = statSync('/dev/net/tun').mode & 0o777;
  chmodSync('/dev/net/tun', 0o666);
  let user: TestUser | undefined;
  let dir = '';
  const done = () => {
    chmodSync('/dev/net/tun', tunMode);
    if (dir) rmSync(dir, { recursive: true, force: true });
    user?.remove();
  };
  try {
    user = makeUser(prefix);
    const img = busyboxTarDir(`berth-${prefix}-`);
    dir = img.dir;
    const r = user.berth(['import', img.tar, 'busybox:latest'], { timeout: 60_000 });
    if (r.code !== 0) throw new Error(`import busybox as ${user.name}: ${r.err}`);
  } catch (e) {
    done();
    throw e;
  }
  return { user, done };
}

/** GET `url`'s text, retrying for 5 s while nothing answers ('' if nothing did). */
export async function fetchText(url: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    try { return await (await fetch(url)).text(); } catch { await new Promise((res) => setTimeout(res, 100)); }
  }
  return '';
}
