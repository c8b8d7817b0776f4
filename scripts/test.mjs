#!/usr/bin/env node
// Runs the test suite (Node's built-in runner) over the compiled tests in build/test.
// Usage: node scripts/test.mjs [substring...]   (only test files whose path contains one of them)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (e.endsWith('.test.js')) files.push(p);
  }
})(join(root, 'build', 'test'));
const filters = process.argv.slice(2);
const chosen = files.filter((f) => !filters.length || filters.some((s) => relative(root, f).includes(s))).sort();
if (!chosen.length) { console.error('no test files matched'); process.exit(1); }
// Engines the tests make have no default bridge unless a test asks for one in a network
// namespace of its own: the suite never adds bridges or firewall rules to the machine's network.
// No test starts a warm process by the way (the front would, for each run root it is pointed
// at): BERTH_NO_WORKER=1 unless the caller says otherwise; the tests of the worker unset it.
const env = { ...process.env, BERTH_BRIDGE: process.env.BERTH_BRIDGE ?? 'none', BERTH_NO_WORKER: process.env.BERTH_NO_WORKER ?? '1' };
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...chosen], { stdio: 'inherit', cwd: root, env });
process.exit(r.status ?? 1);
