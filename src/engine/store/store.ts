/** The engine's metadata store: one SQLite file `<root>/engine.db` shared by every berth process. */
import { join } from 'node:path';
import { Containers } from './containers.js';
import type { StoreContext } from './context.js';
import { type DB, DB_FILE, dbError, openDatabase, type OpenOptions } from './db.js';
import { DEFAULT_EVENT_CAP, EventLog } from './events.js';
import { SCHEMA_VERSION } from './schema.js';
import type { Container, VolumeUsage } from './types.js';
import { Volumes } from './volumes.js';
import { Networks } from './networks.js';

export interface StoreOptions extends OpenOptions {
  /** Events kept (default 10 000). */
  eventCap?: number;
}

export interface SystemUsage {
  containers: Container[];
  /** Image id → containers using it. */
  images: Map<string, number>;
  volumes: VolumeUsage[];
}

export class Store implements StoreContext {
  readonly path: string;
  readonly containers: Containers;
  readonly volumes: Volumes;
  readonly networks: Networks;
  readonly events: EventLog;

  constructor(readonly root: string, readonly db: DB, opts: StoreOptions = {}) {
    this.path = join(root, DB_FILE);
    this.volumes = new Volumes(this);
    this.networks = new Networks(this);
    this.containers = new Containers(this, this.volumes);
    this.events = new EventLog(this, opts.eventCap ?? DEFAULT_EVENT_CAP);
  }

  /** Run `fn` in one BEGIN IMMEDIATE transaction (nested calls become savepoints); a throw rolls back. */
  tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw dbError(err, 'update engine store', this.path); // BerthErrors of `fn` pass as they are
    }
  }

  /** Alias of tx for callers combining several changes (e.g. rename + its event). */
  transaction<T>(fn: () => T): T {
    return this.tx(fn);
  }

  schemaVersion(): number {
    return this.db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_version').pluck().get() as number;
  }

  /** What `system df` needs from the metadata (sizes come from the snapshotter). */
  systemUsage(): SystemUsage {
    try {
      return this.db.transaction(() => ({
        containers: this.containers.list({ all: true }),
        images: this.containers.imageUsage(),
        volumes: this.volumes.usage(),
      })).deferred();
    } catch (err) {
      throw dbError(err, 'system usage', this.path);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Open (creating and migrating if needed) the store of a data root: `<root>/engine.db`. */
export function openStore(root: string, opts: StoreOptions = {}): Store {
  return new Store(root, openDatabase(root, opts), opts);
}

export { SCHEMA_VERSION };
