/**
 * Test fixture: an engine on fresh temp roots with a busybox image (from /bin/busybox, see
 * rootfs.ts) imported and tagged `busybox:latest` (config Cmd ["sh"], like Docker Hub's).
 * `run()` starts detached containers; `cleanup()` force-removes every container, waits for their
 * monitors and the monitors' exit commands (`berth … container cleanup ID`, which would re-create
 * the store), unmounts whatever is still mounted under the roots and removes both roots.
 * Callers should skip when `haveBusybox()` is false (and when not root).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { importRootfs } from '../../src/image/index.js';
import {
  createContainer, EngineCore, monitorAlive, removeContainer, startContainer, type CreateRequest,
} from '../../src/engine/containers/index.js';
import type { Container } from '../../src/engine/store/index.js';
import type { RunOptions } from '../../src/engine/spec/index.js';
import type { EngineOptions } from '../../src/engine/options.js';
import { unmount } from '../../src/snapshots/index.js';
import { busyboxRootfs } from './rootfs.js';

export const BUSYBOX_IMAGE = 'busybox:latest';

export interface BusyboxEngine {
  core: EngineCore;
  /** `busybox:latest` */
  image: string;
  /** The image id (`sha256:…`). */
  imageId: string;
  /** Data root (images, store, logs). */
  root: string;
  /** Run root (short, under /tmp: unix socket paths must stay < 108 bytes). */
  runRoot: string;
  /** Environment for spawning the CLI on these roots (BERTH_ROOT, BERTH_RUN_ROOT, BERTH_CONFIG unset). */
  env: NodeJS.ProcessEnv;
  /**
   * Create and start a detached container of `busybox:latest` (or `req.image`); returns once its
   * monitor has taken its name (`berth-monitor`), so that a reconcile does not mistake a monitor
   * that is still starting for a dead one.
   */
  run(options: RunOptions, req?: Partial<CreateRequest>): Promise<Container>;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function processExists(pid: number): boolean {
  if (!(pid > 0)) return false;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Processes (other than this one) with `dir` as a whole argument: exit commands of our monitors. */
function processesUsing(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const words = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (words.includes(dir) || words.some((w) => w.endsWith(`=${dir}`))) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

/** Wait (up to `ms`) for the monitor to be recognisable as one; the container record as started. */
async function awaitMonitor(c: Container, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!monitorAlive(c.state.monitorPid) && processExists(c.state.monitorPid) && Date.now() < end) await sleep(5);
}

let tarball: Buffer | undefined;

/** The busybox rootfs as a gzip tar (built once per process). */
function busyboxTarball(): Buffer {
  if (tarball) return tarball;
  const dir = mkdtempSync(join(tmpdir(), 'berth-bbfs-'));
  try {
    busyboxRootfs(dir);
    tarball = execFileSync('tar', ['--numeric-owner', '-C', dir, '-czf', '-', '.'], { maxBuffer: 1 << 28 });
    return tarball;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(dir + '/')) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** The tests' engines have no default bridge (containers get `none`) unless a test asks for one
 *  (network tests, in a network namespace of their own: the machine's network is never touched). */
function cliEnv(root: string, runRoot: string, bridge: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_ROOT: root, BERTH_RUN_ROOT: runRoot, BERTH_BRIDGE: bridge };
  delete env.BERTH_CONFIG;
  return env;
}

export async function busyboxEngine(extra: Omit<EngineOptions, 'root' | 'runRoot'> = {}): Promise<BusyboxEngine> {
  const root = mkdtempSync(join(tmpdir(), 'berth-eng-'));
  const runRoot = mkdtempSync('/tmp/bre-');
  // env {}: only these options, never the caller's BERTH_* variables.
  const core = new EngineCore({ bridge: 'none', ...extra, root, runRoot, env: {} });
  let done = false;
  const monitors = new Set<number>();
  const cleanup = async (): Promise<void> => {
    if (done) return;
    done = true;
    const errors: unknown[] = [];
    try {
      for (const c of core.store.containers.list({ all: true })) {
        if (c.state.monitorPid) monitors.add(c.state.monitorPid);
        await removeContainer(core, c.id, { force: true, volumes: true }).catch((e) => errors.push(e));
      }
    } catch (e) { errors.push(e); }
    await core.close().catch((e) => errors.push(e));
    // Monitors write their exit record and last log lines after their container dies, then run
    // their exit command (`berth --data-root ROOT … container cleanup ID`), which opens the store.
    const end = Date.now() + 10000;
    for (const pid of monitors) while (processExists(pid) && Date.now() < end) await sleep(10);
    if (monitors.size) await sleep(100); // a forked exit command may not have exec'd yet
    for (const dir of [runRoot, root]) {
      for (const mp of mountsUnder(dir)) await unmount(mp, { detach: true }).catch((e) => errors.push(e));
    }
    for (let round = 0; round < 3; round++) {
      while (processesUsing(root).length && Date.now() < end) await sleep(20);
      for (const dir of [runRoot, root]) {
        try { rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }); } catch (e) { if (round === 2) errors.push(e); }
      }
      if (!processesUsing(root).length && !existsSync(root) && !existsSync(runRoot)) break;
    }
    if (errors.length) throw new AggregateError(errors, `busyboxEngine cleanup: ${errors.map((e) => (e as Error).message).join('; ')}`);
  };
  try {
    const imageId = await importRootfs(core.images, Readable.from([busyboxTarball()]), {
      reference: BUSYBOX_IMAGE, changes: ['CMD ["sh"]'], source: '/bin/busybox',
    });
    const run = async (options: RunOptions, req: Partial<CreateRequest> = {}): Promise<Container> => {
      const c = await createContainer(core, { image: BUSYBOX_IMAGE, ...req, options });
      const { container } = await startContainer(core, c.id);
      if (container.state.monitorPid) monitors.add(container.state.monitorPid);
      await awaitMonitor(container);
      return container;
    };
    return {
      core, image: BUSYBOX_IMAGE, imageId, root, runRoot,
      env: cliEnv(root, runRoot, extra.bridge ?? 'none'),
      run,
      cleanup,
    };
  } catch (e) {
    await cleanup().catch(() => undefined);
    throw e;
  }
}
