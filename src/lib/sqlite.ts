/**
 * Where better-sqlite3's compiled addon is. Passing it as `nativeBinding` skips the `bindings`
 * package's search (a stack trace and a dozen path probes on every process start).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let cached: string | null | undefined;

export function sqliteBinding(): string | undefined {
  if (cached === undefined) {
    cached = null;
    try {
      const pkg = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
      const p = join(dirname(pkg), 'build', 'Release', 'better_sqlite3.node');
      if (existsSync(p)) cached = p;
    } catch { /* let better-sqlite3 find it */ }
  }
  return cached ?? undefined;
}
