/**
 * Snapshot metadata in SQLite (better-sqlite3, WAL): keys and committed names → numeric id,
 * parent, kind, labels, times. Several processes may share one root; every change that also
 * moves a directory runs inside one IMMEDIATE transaction so the two stay in step.
 */
import Database from 'better-sqlite3';
import { BerthError, sqliteBinding } from '../lib/index.js';

export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotRow {
  id: number;
  key: string;
  parentId: number | null;
  parent?: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
  created: string;
  updated: string;
}

interface RawRow {
  id: number; key: string; parent_id: number | null; parent_key: string | null;
  kind: SnapshotKind; labels: string; created: string; updated: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  parent_id INTEGER REFERENCES snapshots(id),
  kind TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
  labels TEXT NOT NULL DEFAULT '{}',
  created TEXT NOT NULL,
  updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent_id);
`;

const SELECT = `SELECT s.id, s.key, s.parent_id, p.key AS parent_key, s.kind, s.labels, s.created, s.updated
  FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent_id`;

function toRow(r: RawRow): SnapshotRow {
  const row: SnapshotRow = {
    id: r.id, key: r.key, parentId: r.parent_id, kind: r.kind,
    labels: JSON.parse(r.labels) as Record<string, string>, created: r.created, updated: r.updated,
  };
  if (r.parent_key !== null) row.parent = r.parent_key;
  return row;
}

export class MetaStore {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    try {
      this.db = new Database(path, { timeout: 30_000, nativeBinding: sqliteBinding() });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new BerthError({ kind: 'system', op: 'open snapshot metadata', path, message: `open snapshot metadata ${path}: ${(err as Error).message}`, cause: err });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Run `fn` inside BEGIN IMMEDIATE (one writer across processes); a throw rolls back. */
  immediate<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  getMeta(k: string): string | undefined {
    return (this.db.prepare('SELECT v FROM meta WHERE k = ?').get(k) as { v: string } | undefined)?.v;
  }

  setMeta(k: string, v: string): void {
    this.db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v').run(k, v);
  }

  get(key: string): SnapshotRow | undefined {
    const r = this.db.prepare(`${SELECT} WHERE s.key = ?`).get(key) as RawRow | undefined;
    return r && toRow(r);
  }

  byId(id: number): SnapshotRow | undefined {
    const r = this.db.prepare(`${SELECT} WHERE s.id = ?`).get(id) as RawRow | undefined;
    return r && toRow(r);
  }

  list(): SnapshotRow[] {
    return (this.db.prepare(`${SELECT} ORDER BY s.id`).all() as RawRow[]).map(toRow);
  }

  ids(): Set<number> {
    return new Set((this.db.prepare('SELECT id FROM snapshots').pluck().all() as number[]));
  }

  /** The parents of a snapshot, nearest first. */
  chain(row: SnapshotRow): SnapshotRow[] {
    const out: SnapshotRow[] = [];
    for (let id = row.parentId; id !== null;) {
      const p = this.byId(id);
      if (!p) throw new BerthError({ kind: 'internal', op: 'snapshot chain', message: `snapshot ${row.key}: parent id ${id} is missing from the metadata` });
      out.push(p);
      id = p.parentId;
    }
    return out;
  }

  childCount(id: number): number {
    return this.db.prepare('SELECT COUNT(*) FROM snapshots WHERE parent_id = ?').pluck().get(id) as number;
  }

  insert(key: string, parentId: number | null, kind: SnapshotKind, labels: Record<string, string>): number {
    const now = new Date().toISOString();
    const r = this.db.prepare('INSERT INTO snapshots (key, parent_id, kind, labels, created, updated) VALUES (?, ?, ?, ?, ?, ?)')
      .run(key, parentId, kind, JSON.stringify(labels), now, now);
    return Number(r.lastInsertRowid);
  }

  commit(id: number, name: string, labels: Record<string, string>): void {
    this.db.prepare("UPDATE snapshots SET key = ?, kind = 'committed', labels = ?, updated = ? WHERE id = ?")
      .run(name, JSON.stringify(labels), new Date().toISOString(), id);
  }

  setLabels(id: number, labels: Record<string, string>): void {
    this.db.prepare('UPDATE snapshots SET labels = ?, updated = ? WHERE id = ?').run(JSON.stringify(labels), new Date().toISOString(), id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
  }
}
