/** What the store's tables share: the database, the data root, and the transaction helper. */
import type { DB } from './db.js';

export interface StoreContext {
  readonly db: DB;
  readonly root: string;
  /** Run `fn` in BEGIN IMMEDIATE (a savepoint when nested); a throw rolls back. */
  tx<T>(fn: () => T): T;
}

export function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null || text === '') return fallback;
  return JSON.parse(text) as T;
}
