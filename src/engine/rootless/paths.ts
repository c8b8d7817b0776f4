/**
 * Where a rootless berth keeps things (issue 17): an ordinary user gets roots of their own, as
 * podman and Docker rootless do — data in $XDG_DATA_HOME/berth (~/.local/share/berth), state in
 * $XDG_RUNTIME_DIR/berth, configuration in $XDG_CONFIG_HOME/berth (~/.config/berth). Without
 * $XDG_RUNTIME_DIR (no login session: su, cron, ssh without pam_systemd) the run root is a private
 * 0700 directory under /tmp owned by the user, with a warning.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../lib/index.js';

export interface DefaultRoots {
  root: string;
  /** Computed when asked: the /tmp fallback is made (and warned about) only when it is used. */
  runRoot: () => string;
  configFile: string;
  /** True when the process is not root: the rootless engine. */
  rootless: boolean;
}

/** Is this process an ordinary user (the rootless engine)? BERTH_ROOTLESS=1 cannot make root rootless. */
export function isRootless(): boolean {
  return (process.geteuid?.() ?? 0) !== 0;
}

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}

let warned = false;

/** The private run root under /tmp of a user without $XDG_RUNTIME_DIR: made 0700, and refused unless it is the user's own directory. */
export function tmpRunRoot(uid: number, warn?: (msg: string) => void): string {
  const dir = `/tmp/berth-run-${uid}`;
  try { mkdirSync(dir, { mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new BerthError({ kind: 'system', op: 'run root', path: dir, message: `run root ${dir}: not a private directory of uid ${uid} (owner ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}): set XDG_RUNTIME_DIR or BERTH_RUN_ROOT` });
  }
  if (!warned && warn) {
    warned = true;
    warn(`WARNING: XDG_RUNTIME_DIR is not set: using ${dir} as the run root (set XDG_RUNTIME_DIR, e.g. a login session's /run/user/${uid}, or BERTH_RUN_ROOT)`);
  }
  return join(dir, 'berth');
}

/** The default roots of this process: root's system paths, or the user's own. */
export function defaultRoots(env: NodeJS.ProcessEnv = process.env, warn: (msg: string) => void = (m) => process.stderr.write(m + '\n')): DefaultRoots {
  if (!isRootless()) return { root: '/var/lib/berth', runRoot: () => '/run/berth', configFile: '/etc/berth/config.json', rootless: false };
  const h = home(env);
  const data = env.XDG_DATA_HOME || join(h, '.local', 'share');
  const config = env.XDG_CONFIG_HOME || join(h, '.config');
  const runRoot = () => env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'berth') : tmpRunRoot(process.geteuid!(), warn);
  return { root: join(data, 'berth'), runRoot, configFile: join(config, 'berth', 'config.json'), rootless: true };
}
