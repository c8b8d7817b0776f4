/**
 * Test fixture: an engine on fresh temp roots with a busybox image (from /bin/busybox, see
 * rootfs.ts) imported and tagged `busybox:latest` (config Cmd ["sh"], like Docker Hub's).
 * `cleanup()` force-removes every container, unmounts whatever is still mounted under the roots
 * and removes both roots. Callers should skip when `haveBusybox()` is false.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { importRootfs } from '../../src/image/index.js';
import { EngineCore, removeContainer } from '../../src/engine/containers/index.js';
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
  cleanup(): Promise<void>;
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
function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(dir + '/')) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

function cliEnv(root: string, runRoot: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_ROOT: root, BERTH_RUN_ROOT: runRoot };
  delete env.BERTH_CONFIG;
  return env;
}

export async function busyboxEngine(extra: Omit<EngineOptions, 'root' | 'runRoot'> = {}): Promise<BusyboxEngine> {
  const root = mkdtempSync(join(tmpdir(), 'berth-eng-'));
  const runRoot = mkdtempSync('/tmp/bre-');
  // env {}: only these options, never the caller's BERTH_* variables.
  const core = new EngineCore({ ...extra, root, runRoot, env: {} });
  let done = false;
  const cleanup = async (): Promise<void> => {
    if (done) return;
    done = true;
    const errors: unknown[] = [];
    try {
      for (const c of core.store.containers.list({ all: true })) {
        await removeContainer(core, c.id, { force: true, volumes: true }).catch((e) => errors.push(e));
      }
    } catch (e) { errors.push(e); }
    await core.close().catch((e) => errors.push(e));
    for (const dir of [runRoot, root]) {
      for (const mp of mountsUnder(dir)) await unmount(mp, { detach: true }).catch((e) => errors.push(e));
    }
    rmSync(runRoot, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    if (errors.length) throw new AggregateError(errors, `busyboxEngine cleanup: ${errors.map((e) => (e as Error).message).join('; ')}`);
  };
  try {
    const imageId = await importRootfs(core.images, Readable.from([busyboxTarball()]), {
      reference: BUSYBOX_IMAGE, changes: ['CMD ["sh"]'], source: '/bin/busybox',
    });
    return {
      core, image: BUSYBOX_IMAGE, imageId, root, runRoot,
      env: cliEnv(root, runRoot),
      cleanup,
    };
  } catch (e) {
    await cleanup().catch(() => undefined);
    throw e;
  }
}
