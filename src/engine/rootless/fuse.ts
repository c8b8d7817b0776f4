/**
 * A rootless container's root through fuse-overlayfs (issue 17: where overlayfs cannot be mounted
 * in a user namespace). The program must serve the mount for as long as the container uses it,
 * and run in the container's user namespace so that the files keep their owners (it creates the
 * container's files with the ids the container asks for: only root of that namespace may).
 *
 * Once the container's namespaces exist (before it is let go to mount its root: runtime
 * `beforeGo`), a helper process joins its user and mount namespaces, binds the rootfs directory
 * onto itself there and makes that mount shared, then takes a mount namespace of its own (a peer
 * of it) and runs fuse-overlayfs on the rootfs as root of the user namespace: the mount propagates
 * into the container's namespace, where the container's pivot_root finds it. fuse-overlayfs is in
 * neither the container's pid namespace (`ps` in the container does not show it) nor its mount
 * namespace (pivot_root does not move its root), and nothing is mounted on the host.
 * Its pid is kept in the run directory; teardown stops it (it unmounts and exits), which ends
 * its mount namespace: no process and no mount are left.
 */
import { closeSync, existsSync, lstatSync, openSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { FUSE_OVERLAYFS, type Mount } from '../../snapshots/index.js';
import { emptyPlan, HelperSession, processAlive, procStat, step } from '../../sys/index.js';
import { readRootfsFile, resolveInRootfs } from '../spec/index.js';

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWUSER = 0x10000000;
const MS_BIND = 0x1000;
const MS_SHARED = 1 << 20;

export const fusePidFile = (runDir: string) => join(runDir, 'fuse-overlayfs.pid');
export const fuseLogFile = (runDir: string) => join(runDir, 'fuse-overlayfs.log');

const NO_DEVICE_WHITEOUTS = 'FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Is a fuse filesystem mounted on `target` in the mount namespace of `pid`? */
function fuseMountedIn(pid: number, target: string): boolean {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8'); } catch { return false; }
  const esc = target.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return text.split('\n').some((l) => {
    const f = l.split(' ');
    const sep = f.indexOf('-');
    return f[4] === esc && sep > 0 && (f[sep + 1] ?? '').startsWith('fuse');
  });
}

function logTail(runDir: string): string {
  try { return readFileSync(fuseLogFile(runDir), 'utf8').trim().split('\n').slice(-5).join('; '); } catch { return ''; }
}

/**
 * Mount the snapshot (`m`, a fuse-overlayfs description) on the rootfs of the container whose
 * init is `pid` (waiting for the runtime's go), in its namespaces; see the file comment.
 */
export async function mountFuseRootfs(o: { pid: number; rootfs: string; mount: Mount; runDir: string; op: string }): Promise<void> {
  const rootfs = realpathSync(o.rootfs);
  const user = `/proc/${o.pid}/ns/user`;
  const mnt = `/proc/${o.pid}/ns/mnt`;
  const argv = [FUSE_OVERLAYFS, '-f', '-o', o.mount.options.join(','), rootfs];
  const env = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
  // fuse-overlayfs's own switch: `.wh.<name>` files instead of 0/0 devices for whiteouts
  if (process.env[NO_DEVICE_WHITEOUTS]) env.push(`${NO_DEVICE_WHITEOUTS}=1`);
  const plan = emptyPlan();
  plan.pre.push(
    step('setns', [user, CLONE_NEWUSER], 'join the user namespace of the container', user),
    step('setns', [mnt, CLONE_NEWNS], 'join the mount namespace of the container', mnt),
    step('spawn', [0], 'create the fuse-overlayfs process'),
  );
  plan.post.push(step('report_pid', [], 'report the fuse-overlayfs pid'), step('release', [], 'release the fuse-overlayfs process'),
    step('await_ready', [], 'wait for fuse-overlayfs to start'));
  plan.child.push(
    step('await_release', [], 'wait for the runtime'),
    step('mount', [rootfs, rootfs, '', MS_BIND, '', ''], `bind the rootfs ${rootfs} onto itself`, rootfs),
    step('mount', ['', rootfs, '', MS_SHARED, '', ''], `make the rootfs ${rootfs} shared with the container`, rootfs),
    step('unshare', [CLONE_NEWNS], 'create the mount namespace of fuse-overlayfs'),
    step('user', [0, 0, -1], 'become root in the user namespace'),
    step('exec', [argv[0]!, argv.length, ...argv, env.length, ...env], `run ${FUSE_OVERLAYFS}`, FUSE_OVERLAYFS),
  );
  const log = openSync(fuseLogFile(o.runDir), 'a', 0o600);
  let s: HelperSession;
  try {
    s = new HelperSession(plan, { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  const what = `${o.op}: mount the rootfs with fuse-overlayfs`;
  try {
    const daemon = (await s.expect('pid', what)).pid!;
    writeFileSync(fusePidFile(o.runDir), `${daemon} ${procStat(daemon)?.startTime ?? 0}\n`);
    await s.expect('ready', what);
    for (let waited = 0; !fuseMountedIn(o.pid, rootfs); waited += 5) {
      if (!processAlive(daemon) || waited >= 15_000) {
        const why = processAlive(daemon) ? 'no mount after 15 s' : 'it exited';
        throw new BerthError({ kind: 'system', op: o.op, path: rootfs, message: `${what}: ${FUSE_OVERLAYFS} ${why}${logTail(o.runDir) ? `: ${logTail(o.runDir)}` : ''}` });
      }
      await sleep(5);
    }
  } finally {
    s.close();
    s.child.unref();
  }
}

/**
 * Stop the container's fuse-overlayfs (teardown): it unmounts and exits, its mount namespace with
 * it. Only the fuse-overlayfs process named (pid and start time) in the run directory is signalled.
 */
export async function stopFuse(runDir: string): Promise<void> {
  let pid: number, start: number;
  try {
    [pid, start] = readFileSync(fusePidFile(runDir), 'utf8').trim().split(' ').map(Number) as [number, number];
  } catch { return; }
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] !== FUSE_OVERLAYFS) return; // the pid was reused
  } catch { return; }
  if (!processAlive(pid, start || undefined)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 200 && processAlive(pid, start || undefined); i++) await sleep(10);
  try { if (processAlive(pid, start || undefined)) process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

/**
 * A file of a running container whose root is served by fuse-overlayfs, read through its
 * snapshot's layer directories (nearest first): only the container's user namespace may use the
 * mount (the kernel refuses the host user a fuse mount of a namespace it is not in, even through
 * /proc/PID/root). A whiteout hides the file: overlay's 0/0 device or fuse-overlayfs's `.wh.<name>`.
 */
export function readThroughLayers(dirs: string[], path: string): string | undefined {
  for (const d of dirs) {
    let host: string;
    try { host = resolveInRootfs(d, path); } catch { continue; }
    if (existsSync(join(dirname(host), `.wh.${basename(host)}`))) return undefined;
    let st;
    try { st = lstatSync(host); } catch { continue; }
    if (st.isCharacterDevice()) return undefined;
    return readRootfsFile(d, path);
  }
  return undefined;
}

/** Does the container's run directory name a fuse-overlayfs serving its root? */
export const servedByFuse = (runDir: string) => existsSync(fusePidFile(runDir));

/**
 * A fuse-overlayfs description mounted read-only, without the work dir (the upper dir becomes the
 * top lower): for a second mount of a running container's snapshot. Other mounts as they are.
 */
export function fuseReadOnly(m: Mount): Mount {
  if (m.type !== 'fuse-overlayfs') return m;
  const get = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
  const upper = get('upperdir');
  if (!upper) return m;
  return { ...m, options: [`lowerdir=${[upper, get('lowerdir')].filter(Boolean).join(':')}`] };
}
