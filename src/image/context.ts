/**
 * The context every image use case takes: the data root and the options of the registry client,
 * with the stores opened lazily and cached on the context object.
 *   <root>/content    blobs (ContentStore)
 *   <root>/images     image records and tags (ImageStore)
 *   <root>/snapshots  unpacked layers (Snapshotter)
 */
import { join } from 'node:path';
import { ContentStore, readJSONFile } from '../content/index.js';
import { usage } from '../lib/index.js';
import { driverByName, Snapshotter, type DriverName } from '../snapshots/index.js';
import { CredentialStore, RegistryClient, RegistryHosts, type Credentials, type RegistryHostsConfig } from './registry/index.js';
import { ImageStore } from './store.js';

export interface ImageContext {
  /** data root, e.g. /var/lib/berth */
  root: string;
  registries?: RegistryHostsConfig;
  credentials?: CredentialStore | { get(domain: string): Promise<Credentials | undefined> };
  /** layers downloaded at once (default 3) */
  maxConcurrentDownloads?: number;
  /** blobs uploaded at once (default 5) */
  maxConcurrentUploads?: number;
  /** retries of a failing download or request (default 4) */
  maxDownloadAttempts?: number;
  retryDelayMs?: number;
  snapshotDriver?: DriverName | 'auto';
  /**
   * Is this image used by a container? `rmi` refuses then (unless forced, which only untags it),
   * prune skips it. Return the container (its id, whether it runs) for Docker's messages.
   */
  inUse?: (imageId: string) => ImageUse | Promise<ImageUse>;
  /** an already opened snapshotter to use (otherwise one is opened on <root>/snapshots) */
  snapshotter?: Snapshotter;
}

/** What `inUse` answers: no (false/undefined), yes (true), or the container that uses the image. */
export type ImageUse = boolean | undefined | { id: string; running?: boolean };

interface Cache {
  content?: ContentStore;
  images?: ImageStore;
  snapshotter?: Promise<Snapshotter>;
  hosts?: RegistryHosts;
  clients: Map<string, RegistryClient>;
}

const caches = new WeakMap<ImageContext, Cache>();

function cache(ctx: ImageContext): Cache {
  let c = caches.get(ctx);
  if (!c) caches.set(ctx, (c = { clients: new Map() }));
  return c;
}

export function contentStore(ctx: ImageContext): ContentStore {
  const c = cache(ctx);
  return (c.content ??= new ContentStore(join(ctx.root, 'content')));
}

export function imageStore(ctx: ImageContext): ImageStore {
  const c = cache(ctx);
  return (c.images ??= new ImageStore(join(ctx.root, 'images')));
}

export function snapshotter(ctx: ImageContext): Promise<Snapshotter> {
  if (ctx.snapshotter) return Promise.resolve(ctx.snapshotter);
  const c = cache(ctx);
  c.snapshotter ??= Snapshotter.open({ root: join(ctx.root, 'snapshots'), driver: ctx.snapshotDriver ?? 'auto' });
  return c.snapshotter;
}

export function registryHosts(ctx: ImageContext): RegistryHosts {
  const c = cache(ctx);
  return (c.hosts ??= new RegistryHosts(ctx.registries ?? {}));
}

export function registryClient(ctx: ImageContext, domain: string): RegistryClient {
  const c = cache(ctx);
  let client = c.clients.get(domain);
  if (!client) {
    client = new RegistryClient(domain, {
      hosts: registryHosts(ctx), credentials: ctx.credentials, retries: ctx.maxDownloadAttempts, retryDelayMs: ctx.retryDelayMs,
    });
    c.clients.set(domain, client);
  }
  return client;
}

/** Close what the context opened (the snapshotter's database). */
export async function closeContext(ctx: ImageContext): Promise<void> {
  const c = caches.get(ctx);
  if (!c) return;
  caches.delete(ctx);
  if (c.snapshotter) (await c.snapshotter.catch(() => undefined))?.close();
}

/**
 * Options from a daemon.json-style file (Docker's keys): `insecure-registries`,
 * `registry-mirrors`, `max-concurrent-downloads`, `max-concurrent-uploads`,
 * `max-download-attempts`, `storage-driver` ("overlay"/"overlay2"/"fuse-overlayfs"/"copy"/"vfs").
 */
export async function readDaemonConfig(path: string): Promise<Partial<ImageContext>> {
  const j = await readJSONFile<Record<string, unknown>>(path);
  if (!j) return {};
  const out: Partial<ImageContext> = {};
  const strs = (k: string): string[] | undefined => {
    const v = j[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw usage('config', `${path}: ${k} must be a list of strings`);
    return v as string[];
  };
  const num = (k: string): number | undefined => {
    const v = j[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw usage('config', `${path}: ${k} must be a positive integer`);
    return v;
  };
  out.registries = { insecure: strs('insecure-registries') ?? [], mirrors: strs('registry-mirrors') ?? [] };
  const d = num('max-concurrent-downloads');
  if (d) out.maxConcurrentDownloads = d;
  const u = num('max-concurrent-uploads');
  if (u) out.maxConcurrentUploads = u;
  const a = num('max-download-attempts');
  if (a) out.maxDownloadAttempts = a;
  const sd = j['storage-driver'];
  const drv = typeof sd === 'string' ? driverByName(sd) : undefined;
  if (drv && drv !== 'auto') out.snapshotDriver = drv;
  return out;
}
