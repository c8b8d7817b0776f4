/**
 * Opening `<root>/engine.db`: WAL, busy_timeout, foreign keys, migrations under BEGIN IMMEDIATE
 * (so any number of processes may open a fresh root at once), and SQLite errors as BerthErrors.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, sqliteBinding, wrapError } from '../../lib/index.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { nowText } from './time.js';

export type DB = Database.Database;

export interface OpenOptions {
  /** Milliseconds a writer waits for the lock (default 30 s). */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

export const DB_FILE = 'engine.db';

/** Turn a SQLite error into a BerthError naming the operation and object. */
export function dbError(err: unknown, op: string, object: string): BerthError {
  if (err instanceof BerthError) return err;
  const e = err as { code?: string; message?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code?.startsWith('SQLITE_')) {
    // a full disk: SQLITE_FULL, or the WAL index (-shm) that cannot grow
    if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_SHMSIZE') {
      return new BerthError({ kind: 'system', op, code, message: `${op} ${object}: no space left on device (${code})`, cause: err });
    }
    const kind = code.startsWith('SQLITE_CONSTRAINT') ? 'conflict' : code === 'SQLITE_BUSY' ? 'system' : 'internal';
    return new BerthError({ kind, op, code, message: `${op} ${object}: ${e.message ?? code} (${code})`, cause: err });
  }
  return wrapError(err, op, object);
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function migrate(db: DB, path: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL)');
  const current = (db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_version').pluck().get() as number);
  if (current > SCHEMA_VERSION) {
    throw new BerthError({ kind: 'invalid', op: 'open engine store', path, message: `open engine store ${path}: schema version ${current} is newer than this berth supports (${SCHEMA_VERSION})` });
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_version (version, description, applied) VALUES (?, ?, ?)').run(m.version, m.description, nowText());
  }
}

/** Open (creating if needed) `<root>/engine.db` and bring its schema up to date. */
export function openDatabase(root: string, opts: OpenOptions = {}): DB {
  const path = join(root, DB_FILE);
  const timeout = opts.busyTimeoutMs ?? 30_000;
  try {
    mkdirSync(root, { recursive: true, mode: 0o711 });
  } catch (err) {
    throw wrapError(err, 'open engine store', root);
  }
  const deadline = Date.now() + timeout;
  for (let attempt = 0; ; attempt++) {
    let db: DB | undefined;
    try {
      db = new Database(path, { timeout, readonly: opts.readonly ?? false, nativeBinding: sqliteBinding() });
      db.pragma(`busy_timeout = ${timeout}`);
      if (!opts.readonly) {
        // Switching to WAL needs a brief exclusive lock; once WAL it is persistent and a no-op.
        if ((db.pragma('journal_mode', { simple: true }) as string) !== 'wal') db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('foreign_keys = ON');
      if (!opts.readonly) {
        const version = db.prepare("SELECT name FROM sqlite_master WHERE name = 'schema_version'").get()
          ? (db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_version').pluck().get() as number) : 0;
        if (version !== SCHEMA_VERSION) db.transaction(() => migrate(db!, path)).immediate();
      }
      cachePrepared(db);
      return db;
    } catch (err) {
      db?.close();
      // A lock held while another process creates the file or switches it to WAL: retry.
      if (isBusy(err) && Date.now() < deadline) { sleepMs(Math.min(5 * (attempt + 1), 50)); continue; }
      throw dbError(err, 'open engine store', path);
    }
  }
}

/**
 * Statements prepared once per connection: the store prepares its SQL at each call, and a
 * long-lived process (berth serve listing 100 containers) spent a third of its time preparing
 * again. A cached statement comes back in its default modes (not plucked, raw or expanded).
 */
function cachePrepared(db: DB): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<DB['prepare']>>();
  db.prepare = ((sql: string) => {
    let st = cache.get(sql);
    if (!st) {
      if (cache.size >= 256) cache.clear(); // (generated SQL: bounded anyway)
      st = prepare(sql);
      cache.set(sql, st);
    } else if (st.reader) {
      st.pluck(false);
      st.expand(false);
      st.raw(false);
    }
    return st;
  }) as DB['prepare'];
}
