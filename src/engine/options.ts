/**
 * Where the engine keeps things and how it runs containers. Precedence: explicit options (the
 * CLI's `--data-root`/`--run-root`), then the environment (`BERTH_ROOT`, `BERTH_RUN_ROOT`,
 * `BERTH_CONFIG`), then the config file (`/etc/berth/config.json`, for a user ~/.config/berth/config.json: `data-root`, `run-root`,
 * `runtime`, `cgroup-parent`, `init-path`, `log-opts`, `bridge`, `resolv-conf`, `rootless-network`), then the defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { BerthError, usage } from '../lib/index.js';
import { defaultRoots } from './rootless/paths.js';
import { rootlessCgroupParent } from './rootless/cgroup.js';

export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const DEFAULT_RUN_ROOT = '/run/berth';
export const DEFAULT_CONFIG_FILE = '/etc/berth/config.json';
export const DEFAULT_CGROUP_PARENT = '/berth';
/** Static init binaries for `--init` (Debian's tini-static; docker.io's docker-init is tini too). */
export const INIT_CANDIDATES = ['/usr/bin/tini-static', '/usr/bin/docker-init', '/usr/libexec/docker/docker-init'];
/** The only runtime the engine drives in-process (its monitor is berth-runtime's helper). */
export const BUILTIN_RUNTIME = 'berth';

export interface EngineOptions {
  /** Data root: images, snapshots, volumes, container logs, the metadata database. */
  root?: string;
  /** Run root: per-container bundles, rootfs mounts, monitor sockets and exit files, runtime state. */
  runRoot?: string;
  /** Config file to read (missing = none). */
  configFile?: string;
  /** OCI runtime name; only `berth` (built in) is supported. */
  runtime?: string;
  /** Parent cgroup of containers (cgroupfs path). */
  cgroupParent?: string;
  /** Host binary bind-mounted for `--init` (default: none found = `--init` is refused). */
  initPath?: string;
  /** Default json-file log options (`max-size` bytes, `max-file`). */
  logMaxSize?: number;
  logMaxFile?: number;
  /** argv prefix that runs `berth` (for the monitor's exit command), e.g. [node, dist/berth.cjs]. */
  selfCommand?: string[];
  /** The default bridge's interface (dockerd's `--bridge`), or `none`: no default bridge, and
   *  containers without `--network` get the `none` network. Env `BERTH_BRIDGE`, config `bridge`. */
  bridge?: string;
  /** The host's resolv.conf (containers' DNS comes from it; default /etc/resolv.conf).
   *  Env `BERTH_RESOLV_CONF`, config `resolv-conf`. */
  resolvConf?: string;
  /** A rootless engine's default network: `pasta` or `slirp4netns[:OPT=VAL,…]` (default: pasta,
   *  else slirp4netns, whichever is usable). Env `BERTH_ROOTLESS_NETWORK`, config `rootless-network`. */
  rootlessNetwork?: string;
  /** Environment to read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedOptions {
  root: string;
  runRoot: string;
  runtime: string;
  cgroupParent: string;
  initPath?: string;
  logMaxSize: number;
  logMaxFile: number;
  selfCommand?: string[];
  /** `none`, or the default bridge's interface name. */
  bridge: string;
  resolvConf: string;
  rootlessNetwork?: string;
}

function readConfig(path: string, required: boolean): Record<string, unknown> {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new BerthError({ kind: 'invalid', op: 'read config', path, message: `read config ${path}: ${(e as Error).message}` });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new BerthError({ kind: 'invalid', op: 'read config', path, message: `read config ${path}: ${(e as Error).message}` });
  }
}

function str(cfg: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = cfg[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v) throw usage('read config', `read config ${path}: ${key} must be a non-empty string`);
  return v;
}

function absolute(what: string, p: string): string {
  if (!isAbsolute(p)) throw usage('engine options', `${what} ${p}: must be an absolute path`);
  return p;
}

export function resolveOptions(o: EngineOptions = {}): ResolvedOptions {
  const env = o.env ?? process.env;
  // root: the system paths; an ordinary user: their own (rootless/paths.ts)
  const defaults = defaultRoots(env);
  const configPath = o.configFile ?? env.BERTH_CONFIG ?? defaults.configFile;
  const cfg = readConfig(configPath, !!(o.configFile ?? env.BERTH_CONFIG));
  const logOpts = (cfg['log-opts'] ?? {}) as Record<string, unknown>;
  const runtime = o.runtime ?? str(cfg, 'runtime', configPath) ?? BUILTIN_RUNTIME;
  if (runtime !== BUILTIN_RUNTIME) {
    throw usage('engine options', `runtime ${runtime}: unknown runtime (berth runs containers with its built-in runtime "${BUILTIN_RUNTIME}", whose helper is the per-container monitor)`);
  }
  const root = absolute('data root', o.root ?? env.BERTH_ROOT ?? str(cfg, 'data-root', configPath) ?? defaults.root);
  const runRoot = absolute('run root', o.runRoot ?? env.BERTH_RUN_ROOT ?? str(cfg, 'run-root', configPath) ?? defaults.runRoot());
  const init = o.initPath ?? str(cfg, 'init-path', configPath) ?? INIT_CANDIDATES.find((p) => existsSync(p));
  return {
    root, runRoot, runtime,
    // rootless: below the user's delegated cgroup (rootless/cgroup.ts), if any
    cgroupParent: o.cgroupParent ?? str(cfg, 'cgroup-parent', configPath) ?? (defaults.rootless ? rootlessCgroupParent() : undefined) ?? DEFAULT_CGROUP_PARENT,
    initPath: init,
    logMaxSize: o.logMaxSize ?? (typeof logOpts['max-size'] === 'number' ? logOpts['max-size'] as number : 0),
    logMaxFile: o.logMaxFile ?? (typeof logOpts['max-file'] === 'number' ? logOpts['max-file'] as number : 1),
    selfCommand: o.selfCommand,
    // rootless: no bridge (a user cannot make one); user-mode networking is issue 17's next part
    bridge: o.bridge ?? env.BERTH_BRIDGE ?? str(cfg, 'bridge', configPath) ?? (defaults.rootless ? 'none' : 'berth0'),
    rootlessNetwork: o.rootlessNetwork ?? env.BERTH_ROOTLESS_NETWORK ?? str(cfg, 'rootless-network', configPath),
    resolvConf: absolute('resolv.conf', o.resolvConf ?? env.BERTH_RESOLV_CONF ?? str(cfg, 'resolv-conf', configPath) ?? '/etc/resolv.conf'),
  };
}

/** Per-container paths. */
export interface ContainerPaths {
  /** <root>/containers/<id>: log, hostname, hosts, resolv.conf */
  dataDir: string;
  /** <runRoot>/<id>: config.json (the bundle), rootfs mount, exit file, attach socket */
  runDir: string;
  rootfs: string;
  bundleConfig: string;
  exitFile: string;
  socket: string;
  /** <runDir>/shm: the /dev/shm tmpfs of a shareable-IPC container, mounted here on the host */
  shm: string;
}

export function containerPaths(o: ResolvedOptions, id: string): ContainerPaths {
  const runDir = join(o.runRoot, id);
  return {
    dataDir: join(o.root, 'containers', id),
    runDir,
    rootfs: join(runDir, 'rootfs'),
    bundleConfig: join(runDir, 'config.json'),
    exitFile: join(runDir, 'exit.json'),
    socket: join(runDir, 'attach.sock'),
    shm: join(runDir, 'shm'),
  };
}

/** berth-runtime state root used by the engine. */
export function runtimeRoot(o: ResolvedOptions): string {
  return join(o.runRoot, 'runtime');
}
