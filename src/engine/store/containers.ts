/** Containers: create with unique names, Docker's lookup order, filtered lists, state changes, rename, remove. */
import { join } from 'node:path';
import { BerthError, conflict, invalid, notFound } from '../../lib/index.js';
import type { StoreContext } from './context.js';
import { parseJson } from './context.js';
import { dbError } from './db.js';
import { checkFilterKeys, compileContainerFilters, matchLabels, matchNotLabels, parseUntil, PRUNE_FILTER_KEYS } from './filters.js';
import { checkContainerName, isFullId, randomId, randomName, shortId } from './names.js';
import { checkTransition, REMOVABLE_STATUSES, RUNNING_STATUSES } from './states.js';
import { nowText, parseTimeNs } from './time.js';
import type {
  Container, ContainerPatch, ContainerStatus, Filters, JsonObject, Labels, ListOptions, NewContainer, StateChange, Volume, VolumeRef,
} from './types.js';
import type { Volumes } from './volumes.js';

interface Row {
  id: string; name: string; image: string; image_id: string; created: string; status: ContainerStatus;
  pid: number; exit_code: number; error: string; started_at: string | null; finished_at: string | null;
  oom_killed: number; restart_count: number; monitor_pid: number; config: string; host_config: string;
  labels: string; mounts: string; log_path: string; bundle_dir: string; snapshot_key: string;
  driver: string; platform: string; updated: string; manual_stop: number; restart_timeout_ms: number;
}

interface RefRow { container_id: string; volume_name: string; destination: string; rw: number }

const PATCH_COLUMNS: Record<keyof ContainerPatch, [string, 'json' | 'bool' | 'plain']> = {
  config: ['config', 'json'], hostConfig: ['host_config', 'json'], labels: ['labels', 'json'], mounts: ['mounts', 'json'],
  logPath: ['log_path', 'plain'], bundleDir: ['bundle_dir', 'plain'], snapshotKey: ['snapshot_key', 'plain'],
  pid: ['pid', 'plain'], exitCode: ['exit_code', 'plain'], error: ['error', 'plain'], oomKilled: ['oom_killed', 'bool'],
  startedAt: ['started_at', 'plain'], finishedAt: ['finished_at', 'plain'], monitorPid: ['monitor_pid', 'plain'],
  restartCount: ['restart_count', 'plain'], manualStop: ['manual_stop', 'plain'], restartTimeoutMs: ['restart_timeout_ms', 'plain'],
};

function toContainer(r: Row, refs: RefRow[]): Container {
  return {
    id: r.id, name: r.name, image: r.image, imageId: r.image_id, created: r.created,
    state: {
      status: r.status, pid: r.pid, exitCode: r.exit_code, error: r.error, startedAt: r.started_at,
      finishedAt: r.finished_at, oomKilled: r.oom_killed !== 0, restartCount: r.restart_count, monitorPid: r.monitor_pid,
      manualStop: r.manual_stop ?? 0, restartTimeoutMs: r.restart_timeout_ms ?? 0,
    },
    config: parseJson<JsonObject>(r.config, {}), hostConfig: parseJson<JsonObject>(r.host_config, {}),
    labels: parseJson<Labels>(r.labels, {}), mounts: parseJson<unknown[]>(r.mounts, []),
    volumes: refs.map((v): VolumeRef => ({ name: v.volume_name, destination: v.destination, rw: v.rw !== 0 })),
    logPath: r.log_path, bundleDir: r.bundle_dir, snapshotKey: r.snapshot_key, driver: r.driver,
    platform: r.platform, updated: r.updated,
  };
}

export function nameConflict(op: string, name: string, holder: string): BerthError {
  return conflict(op, `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
}

export class Containers {
  constructor(private readonly c: StoreContext, private readonly volumes: Volumes) {}

  /** Create a container record (status `created`) and its volumes, atomically. */
  create(spec: NewContainer): Container {
    const op = 'create container';
    const given = spec.name === undefined ? undefined : checkContainerName(op, spec.name);
    const dests = new Set<string>();
    for (const v of spec.volumes ?? []) {
      if (dests.has(v.destination)) throw invalid(op, `Duplicate mount point: ${v.destination}`);
      dests.add(v.destination);
    }
    try {
      return this.c.tx(() => {
        let id = randomId();
        while (this.row(id)) id = randomId();
        let name = given;
        if (name !== undefined) {
          const holder = this.idByName(name);
          if (holder) throw nameConflict(op, name, holder);
        } else {
          for (let retry = 0; name === undefined || this.idByName(name); retry++) name = randomName(retry);
        }
        const labels = spec.labels ?? (isLabels(spec.config?.Labels) ? spec.config!.Labels as Labels : {});
        const bundleDir = spec.bundleDir ?? join(this.c.root, 'containers', id);
        const now = nowText();
        this.c.db.prepare(`INSERT INTO containers (id, name, image, image_id, created, status, config, host_config, labels,
          mounts, log_path, bundle_dir, snapshot_key, driver, platform, updated) VALUES (?, ?, ?, ?, ?, 'created', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(id, name, spec.image, spec.imageId, now, JSON.stringify(spec.config ?? {}), JSON.stringify(spec.hostConfig ?? {}),
            JSON.stringify(labels), JSON.stringify(spec.mounts ?? []), spec.logPath ?? join(bundleDir, `${id}-json.log`), bundleDir,
            spec.snapshotKey ?? '', spec.driver ?? '', spec.platform ?? 'linux', now);
        const ref = this.c.db.prepare('INSERT INTO container_volumes (container_id, volume_name, destination, rw) VALUES (?, ?, ?, ?)');
        for (const v of spec.volumes ?? []) {
          const vname = v.name ?? randomId();
          if (!this.volumes.find(vname)) this.volumes.insert(vname, { anonymous: v.anonymous ?? v.name === undefined });
          ref.run(id, vname, v.destination, v.rw === false ? 0 : 1);
        }
        return this.get(id);
      });
    } catch (err) {
      throw dbError(err, op, given ?? spec.image);
    }
  }

  /** Docker's lookup order: full id, exact name (with or without `/`), unique id prefix. */
  find(ref: string): Container | undefined {
    const id = this.resolveId('get container', ref);
    return id === undefined ? undefined : this.load(this.row(id)!);
  }

  get(ref: string): Container {
    const c = this.find(ref);
    if (!c) throw notFound('get container', `No such container: ${ref}`);
    return c;
  }

  /** The full id for a reference, or undefined; an ambiguous prefix is an error. */
  resolveId(op: string, ref: string): string | undefined {
    if (ref === '') throw invalid(op, `${op}: empty container name or id`);
    if (isFullId(ref) && this.row(ref)) return ref;
    const byName = this.idByName(ref.startsWith('/') ? ref.slice(1) : ref);
    if (byName) return byName;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const ids = this.c.db.prepare('SELECT id FROM containers WHERE id GLOB ? LIMIT 2').pluck().all(`${ref}*`) as string[];
    if (ids.length > 1) throw invalid(op, `multiple IDs found with provided prefix: ${ref}`);
    return ids[0];
  }

  /**
   * Newest first. Filters (Docker's ps): id, name (regex on "/name"), label, label!, status,
   * ancestor, exited, before, since, volume. `ancestorIds` lets the engine expand an image
   * reference to image ids (children included).
   */
  list(opts: ListOptions = {}, ancestorIds?: (value: string) => string[] | undefined): Container[] {
    const op = 'list containers';
    const m = compileContainerFilters(op, opts.filters ?? {}, (ref) => {
      const id = this.resolveId(op, ref);
      if (!id) throw notFound(op, `No such container: ${ref}`);
      return this.row(id)!.created;
    }, ancestorIds);
    const all = opts.all || opts.limit !== undefined || m.statuses !== undefined;
    const rows = this.c.db.prepare('SELECT * FROM containers ORDER BY created DESC, rowid DESC').all() as Row[];
    const refs = this.allRefs();
    const out: Container[] = [];
    for (const r of rows) {
      if (opts.limit !== undefined && opts.limit > 0 && out.length >= opts.limit) break;
      if (!all && !RUNNING_STATUSES.includes(r.status)) continue;
      const c = toContainer(r, refs.get(r.id) ?? []);
      if (m.match(c)) out.push(c);
    }
    return out;
  }

  /** Change status atomically, checked against the transition table; sets Docker's side fields. */
  setState(ref: string, to: ContainerStatus, change: StateChange = {}): Container {
    const op = 'set container state';
    try {
      return this.c.tx(() => {
        const row = this.mustRow(op, ref);
        const from = row.status;
        if (change.expect && !change.expect.includes(from)) {
          throw conflict(op, `${op} ${shortId(row.id)}: container is ${from}, not ${change.expect.join(' or ')}`);
        }
        checkTransition(op, row.id, from, to);
        const now = nowText();
        const set: Record<string, unknown> = { status: to };
        if (change.monitorPid !== undefined) set.monitor_pid = change.monitorPid;
        if (change.error !== undefined) set.error = change.error;
        if (change.restartTimeoutMs !== undefined) set.restart_timeout_ms = change.restartTimeoutMs;
        if (change.manualStop !== undefined) set.manual_stop = change.manualStop;
        if (to === 'running' && from !== 'paused') {
          if (!change.pid || change.pid <= 0) throw invalid(op, `${op} ${shortId(row.id)}: a running container needs a pid`);
          Object.assign(set, { pid: change.pid, exit_code: 0, oom_killed: 0, error: change.error ?? '', started_at: change.startedAt ?? now });
          set.manual_stop = 0; // Docker: a start clears HasBeenManuallyStopped
          if (change.resetRestartCount) Object.assign(set, { restart_count: 0, restart_timeout_ms: 0 });
        } else if (to === 'exited' || to === 'restarting') {
          if (change.exitCode === undefined) throw invalid(op, `${op} ${shortId(row.id)}: ${to} needs an exit code`);
          Object.assign(set, { pid: 0, exit_code: change.exitCode, oom_killed: change.oomKilled ? 1 : 0, finished_at: change.finishedAt ?? now });
          if (to === 'restarting') set.restart_count = row.restart_count + 1;
        } else if (to === 'dead') {
          set.pid = 0;
        }
        this.patchRow(row.id, set);
        return this.get(row.id);
      });
    } catch (err) {
      throw dbError(err, op, ref);
    }
  }

  /** Change fields that need no state transition (config, paths, monitor pid, exit details). */
  update(ref: string, patch: ContainerPatch): Container {
    const op = 'update container';
    const set: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(patch) as [keyof ContainerPatch, unknown][]) {
      if (v === undefined) continue;
      const col = PATCH_COLUMNS[k];
      if (!col) throw invalid(op, `${op} ${ref}: unknown field ${k}`);
      set[col[0]] = col[1] === 'json' ? JSON.stringify(v) : col[1] === 'bool' ? (v ? 1 : 0) : v;
    }
    try {
      return this.c.tx(() => {
        const row = this.mustRow(op, ref);
        this.patchRow(row.id, set);
        return this.get(row.id);
      });
    } catch (err) {
      throw dbError(err, op, ref);
    }
  }

  /** Rename; the old name is returned (for the `rename` event's oldName attribute). */
  rename(ref: string, newName: string): { container: Container; oldName: string } {
    const op = 'rename container';
    const name = checkContainerName(op, newName);
    try {
      return this.c.tx(() => {
        const row = this.mustRow(op, ref);
        if (row.name === name) throw invalid(op, 'Renaming a container with the same name as its current name');
        const holder = this.idByName(name);
        if (holder) throw nameConflict(op, name, holder);
        this.patchRow(row.id, { name });
        return { container: this.get(row.id), oldName: row.name };
      });
    } catch (err) {
      throw dbError(err, op, ref);
    }
  }

  /**
   * Delete a container's record (its volume references go with it). Refused while it runs
   * unless `force` (the caller has stopped it). With `volumes`, its anonymous volumes that no
   * other container uses are removed too and returned, for the caller to delete their data.
   */
  remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): { container: Container; removedVolumes: Volume[] } {
    const op = 'remove container';
    try {
      return this.c.tx(() => {
        const c = this.get(ref);
        const s = c.state.status;
        if (!opts.force && !REMOVABLE_STATUSES.includes(s)) {
          throw conflict(op, s === 'paused'
            ? `You cannot remove a paused container ${c.id}. Unpause and then stop the container before attempting removal or force remove`
            : `You cannot remove a ${s} container ${c.id}. Stop the container before attempting removal or force remove`);
        }
        this.c.db.prepare('DELETE FROM containers WHERE id = ?').run(c.id);
        const removedVolumes: Volume[] = [];
        if (opts.volumes) {
          for (const v of c.volumes) {
            const vol = this.volumes.find(v.name);
            if (!vol?.anonymous || this.volumes.users(v.name).length) continue;
            this.c.db.prepare('DELETE FROM volumes WHERE name = ?').run(v.name);
            removedVolumes.push(vol);
          }
        }
        return { container: c, removedVolumes };
      });
    } catch (err) {
      throw dbError(err, op, ref);
    }
  }

  /** Containers `container prune` would remove (not running); filters until, label, label!. */
  pruneCandidates(filters: Filters = {}): Container[] {
    const op = 'prune containers';
    checkFilterKeys(op, filters, PRUNE_FILTER_KEYS);
    const until = filters.until?.map((v) => parseUntil(op, v));
    return this.list({ all: true }).filter((c) => {
      if (RUNNING_STATUSES.includes(c.state.status) || c.state.status === 'removing') return false;
      const created = Number((parseTimeNs(c.created) ?? 0n) / 1_000_000n);
      if (until && !until.every((t) => created < t)) return false;
      return matchLabels(c.labels, filters.label) && matchNotLabels(c.labels, filters['label!']);
    });
  }

  /** Image id → number of containers using it (for `system df` and `image rm` checks). */
  imageUsage(): Map<string, number> {
    const rows = this.c.db.prepare('SELECT image_id, COUNT(*) AS n FROM containers GROUP BY image_id').all() as { image_id: string; n: number }[];
    return new Map(rows.map((r) => [r.image_id, r.n]));
  }

  private load(r: Row): Container {
    const refs = this.c.db.prepare('SELECT * FROM container_volumes WHERE container_id = ? ORDER BY destination').all(r.id) as RefRow[];
    return toContainer(r, refs);
  }

  private allRefs(): Map<string, RefRow[]> {
    const out = new Map<string, RefRow[]>();
    for (const r of this.c.db.prepare('SELECT * FROM container_volumes ORDER BY destination').all() as RefRow[]) {
      const l = out.get(r.container_id) ?? [];
      l.push(r);
      out.set(r.container_id, l);
    }
    return out;
  }

  private row(id: string): Row | undefined {
    return this.c.db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as Row | undefined;
  }

  private idByName(name: string): string | undefined {
    return this.c.db.prepare('SELECT id FROM containers WHERE name = ?').pluck().get(name) as string | undefined;
  }

  private mustRow(op: string, ref: string): Row {
    const id = this.resolveId(op, ref);
    if (!id) throw notFound(op, `No such container: ${ref}`);
    return this.row(id)!;
  }

  private patchRow(id: string, set: Record<string, unknown>): void {
    const cols = Object.keys(set);
    set.updated = nowText();
    const sql = `UPDATE containers SET ${[...cols, 'updated'].map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`;
    this.c.db.prepare(sql).run({ ...set, id });
  }
}

function isLabels(v: unknown): v is Labels {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}
