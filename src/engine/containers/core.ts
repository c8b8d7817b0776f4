/** What every container use case needs: options, the metadata store, the image context, paths. */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeContext, type ImageContext } from '../../image/index.js';
import type { RuntimeOptions } from '../../runtime/index.js';
import { containerPaths, resolveOptions, runtimeRoot, type ContainerPaths, type EngineOptions, type ResolvedOptions } from '../options.js';
import { openStore, type Container, type EventType, type Store } from '../store/index.js';
import { Firewall, NetworkRoom } from '../../network/index.js';
import { runNetSteps } from '../../sys/index.js';
import { isRootless } from '../rootless/paths.js';
import { RootlessNetworkRoom } from '../rootless/netns.js';

export class EngineCore {
  readonly options: ResolvedOptions;
  readonly images: ImageContext;
  private storeCache?: Store;
  private roomCache?: NetworkRoom;

  constructor(o: EngineOptions = {}) {
    this.options = resolveOptions(o);
    this.images = { root: this.options.root, inUse: (id) => imageUser(this.store, id) };
  }

  get store(): Store {
    return (this.storeCache ??= openStore(this.options.root));
  }

  /** The monitor's exit command for a container: `berth --data-root=… --run-root=… container cleanup ID`. */
  exitCommand(id: string): string[] | undefined {
    const self = this.options.selfCommand ?? defaultSelfCommand();
    if (!self) return undefined;
    // `--flag=value` words: no value of the user's stands alone where Node might parse it as an
    // option of its own (Node 20 reads `--env-file` anywhere in its command line).
    return [...self, `--data-root=${this.options.root}`, `--run-root=${this.options.runRoot}`, 'container', 'cleanup', id];
  }

  /** The network room, its state under `<run-root>/network`. */
  get network(): NetworkRoom {
    const dir = join(this.options.runRoot, 'network');
    // rootless: the kernel side is the user's rootless network namespace (rootless/netns.ts)
    return (this.roomCache ??= isRootless() ? new RootlessNetworkRoom(dir, this.options.runRoot) : new NetworkRoom(dir, new Firewall(), runNetSteps));
  }

  /** A container's paths (pure joins of the roots and the id: kept for the ids seen lately, as list asks for each). */
  paths(id: string): ContainerPaths {
    let p = this.pathsCache.get(id);
    if (!p) {
      if (this.pathsCache.size >= 1024) this.pathsCache.clear();
      p = Object.freeze(containerPaths(this.options, id));
      this.pathsCache.set(id, p);
    }
    return p;
  }

  private readonly pathsCache = new Map<string, Readonly<ContainerPaths>>();

  get runtime(): RuntimeOptions {
    return (this.runtimeCache ??= Object.freeze({ root: runtimeRoot(this.options), seccompCacheDir: join(this.options.runRoot, 'seccomp') }));
  }

  private runtimeCache?: RuntimeOptions;

  /** Record an event about a container (Docker's attributes: image, name, labels, extras). */
  event(type: EventType, action: string, c: Container, extra: Record<string, string> = {}): void {
    const attributes: Record<string, string> = type === 'container' ? { ...c.labels, image: c.image, name: c.name, ...extra } : extra;
    this.store.events.append({ type, action, actorId: c.id, attributes });
    this.changes.emit(c.id, action);
  }

  /**
   * Container events of this process as they are recorded, by container id: a waiter in a
   * long-lived process (the API's wait) wakes at once rather than at its next look. Events of other
   * processes are not seen here.
   */
  readonly changes = new EventEmitter().setMaxListeners(0);

  /** Until an event of container `id` in this process, or `ms`, or the signal. */
  changeOf(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.changes.off(id, done); signal?.removeEventListener('abort', done); resolve(); };
      const t = setTimeout(done, ms);
      this.changes.on(id, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    this.storeCache?.close();
    this.storeCache = undefined;
    await closeContext(this.images);
  }
}

/** A container using the image (a running one first), for `rmi`'s conflicts and prune. */
function imageUser(store: Store, imageId: string): { id: string; running: boolean } | undefined {
  if (!store.containers.imageUsage().has(imageId)) return undefined;
  const users = store.containers.list({ all: true }).filter((c) => c.imageId === imageId);
  const running = users.find((c) => ['running', 'paused', 'restarting'].includes(c.state.status));
  const c = running ?? users[0];
  return c && { id: c.id, running: !!running };
}

let found: string[] | null | undefined;

/** `node <package>/dist/berth.cjs` (or the tsc build's CLI) found above this module. */
function defaultSelfCommand(): string[] | undefined {
  if (found === undefined) {
    found = null;
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 6 && found === null; i++) {
      for (const rel of ['dist/berth.cjs', 'build/src/cli/berth-main.js']) {
        if (existsSync(join(dir, rel))) { found = [process.execPath, join(dir, rel)]; break; }
      }
      dir = dirname(dir);
    }
  }
  return found ?? undefined;
}
