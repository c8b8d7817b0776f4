/** Volumes: metadata only (the caller makes and deletes the directories), with in-use checks. */
import { join } from 'node:path';
import { conflict, invalid, notFound } from '../../lib/index.js';
import type { StoreContext } from './context.js';
import { parseJson } from './context.js';
import { dbError } from './db.js';
import { checkFilterKeys, matchLabels, matchNotLabels, PRUNE_FILTER_KEYS } from './filters.js';
import { checkVolumeName, randomId } from './names.js';
import { nowText } from './time.js';
import type { Filters, Labels, NewVolume, Volume, VolumeUsage } from './types.js';

interface VolumeRow {
  name: string; driver: string; mountpoint: string; options: string; labels: string; created: string; anonymous: number;
}

function toVolume(r: VolumeRow): Volume {
  return {
    name: r.name, driver: r.driver, mountpoint: r.mountpoint,
    options: parseJson<Labels>(r.options, {}), labels: parseJson<Labels>(r.labels, {}),
    created: r.created, anonymous: r.anonymous !== 0,
  };
}

export const VOLUME_LIST_FILTER_KEYS = ['name', 'label', 'label!', 'dangling', 'driver'] as const;

export class Volumes {
  constructor(private readonly c: StoreContext) {}

  /** Where a volume's data lives by default: `<root>/volumes/<name>/_data`. */
  defaultMountpoint(name: string): string {
    return join(this.c.root, 'volumes', name, '_data');
  }

  /**
   * Create a volume; an existing one of that name is returned unchanged (Docker's `volume create`
   * is idempotent). No name: an anonymous volume with a random 64-hex name.
   */
  create(spec: NewVolume = {}): { volume: Volume; created: boolean } {
    const op = 'create volume';
    const name = spec.name === undefined ? randomId() : checkVolumeName(op, spec.name);
    const driver = spec.driver ?? 'local';
    if (driver !== 'local') throw invalid(op, `create ${name}: driver "${driver}" is not supported (only "local")`);
    try {
      return this.c.tx(() => {
        const existing = this.find(name);
        if (existing) return { volume: existing, created: false };
        return { volume: this.insert(name, { ...spec, anonymous: spec.anonymous ?? spec.name === undefined }), created: true };
      });
    } catch (err) {
      throw dbError(err, op, name);
    }
  }

  /** Insert inside the caller's transaction (the name is already checked and free). */
  insert(name: string, spec: NewVolume = {}): Volume {
    this.c.db.prepare('INSERT INTO volumes (name, driver, mountpoint, options, labels, created, anonymous) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(name, spec.driver ?? 'local', spec.mountpoint ?? this.defaultMountpoint(name),
        JSON.stringify(spec.options ?? {}), JSON.stringify(spec.labels ?? {}), nowText(), spec.anonymous ? 1 : 0);
    return this.find(name)!;
  }

  find(name: string): Volume | undefined {
    const r = this.c.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as VolumeRow | undefined;
    return r && toVolume(r);
  }

  get(name: string): Volume {
    const v = this.find(name);
    if (!v) throw notFound('get volume', `get ${name}: no such volume`);
    return v;
  }

  /** Ids of the containers referring to a volume, oldest first. */
  users(name: string): string[] {
    return this.c.db.prepare(`SELECT DISTINCT cv.container_id FROM container_volumes cv JOIN containers c ON c.id = cv.container_id
      WHERE cv.volume_name = ? ORDER BY c.created`).pluck().all(name) as string[];
  }

  /** Filters: name (substring), label, label!, dangling=true|false, driver. */
  list(filters: Filters = {}): Volume[] {
    const op = 'list volumes';
    checkFilterKeys(op, filters, VOLUME_LIST_FILTER_KEYS);
    const dangling = filters.dangling?.map((v) => {
      if (!['true', 'false', '1', '0'].includes(v)) throw invalid(op, `invalid filter 'dangling=${v}'`);
      return v === 'true' || v === '1';
    });
    const used = this.usedNames();
    return (this.c.db.prepare('SELECT * FROM volumes ORDER BY name').all() as VolumeRow[]).map(toVolume).filter((v) =>
      (!filters.name?.length || filters.name.some((n) => v.name.includes(n)))
      && (!filters.driver?.length || filters.driver.includes(v.driver))
      && matchLabels(v.labels, filters.label) && matchNotLabels(v.labels, filters['label!'])
      && (!dangling?.length || dangling.includes(!used.has(v.name))));
  }

  /** Remove a volume's record; in use → conflict. `force` ignores a missing volume. */
  remove(name: string, opts: { force?: boolean } = {}): Volume | undefined {
    const op = 'remove volume';
    try {
      return this.c.tx(() => {
        const v = this.find(name);
        if (!v) {
          if (opts.force) return undefined;
          throw notFound(op, `get ${name}: no such volume`);
        }
        const users = this.users(name);
        if (users.length) throw conflict(op, `remove ${name}: volume is in use - [${users.join(', ')}]`);
        this.c.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
        return v;
      });
    } catch (err) {
      throw dbError(err, op, name);
    }
  }

  /**
   * Remove unused volumes atomically (nothing can start using one half-way); by default only
   * anonymous ones (Docker ≥ 23), all unused ones with `all`. Filters: label, label!.
   * Returns the removed records so the caller can delete their directories.
   */
  prune(opts: { all?: boolean; filters?: Filters } = {}): Volume[] {
    const op = 'prune volumes';
    const filters = opts.filters ?? {};
    checkFilterKeys(op, filters, PRUNE_FILTER_KEYS.filter((k) => k !== 'until'));
    try {
      return this.c.tx(() => {
        const used = this.usedNames();
        const victims = (this.c.db.prepare('SELECT * FROM volumes ORDER BY name').all() as VolumeRow[]).map(toVolume)
          .filter((v) => !used.has(v.name) && (opts.all || v.anonymous)
            && matchLabels(v.labels, filters.label) && matchNotLabels(v.labels, filters['label!']));
        const del = this.c.db.prepare('DELETE FROM volumes WHERE name = ?');
        for (const v of victims) del.run(v.name);
        return victims;
      });
    } catch (err) {
      throw dbError(err, op, this.c.root);
    }
  }

  /** Every volume with its reference count (for `system df`). */
  usage(): VolumeUsage[] {
    const refs = new Map<string, string[]>();
    for (const r of this.c.db.prepare('SELECT volume_name, container_id FROM container_volumes').all() as { volume_name: string; container_id: string }[]) {
      const l = refs.get(r.volume_name) ?? [];
      if (!l.includes(r.container_id)) l.push(r.container_id);
      refs.set(r.volume_name, l);
    }
    return (this.c.db.prepare('SELECT * FROM volumes ORDER BY name').all() as VolumeRow[]).map((r) => {
      const containers = refs.get(r.name) ?? [];
      return { volume: toVolume(r), refCount: containers.length, containers };
    });
  }

  private usedNames(): Set<string> {
    return new Set(this.c.db.prepare('SELECT DISTINCT volume_name FROM container_volumes').pluck().all() as string[]);
  }
}
