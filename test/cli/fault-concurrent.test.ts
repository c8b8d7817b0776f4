/**
 * Fault suite: 50 concurrent CLIs mixing run / run -d / rm -f / ps / logs / exec / rename on one
 * data root (BERTH_FAULT_SECONDS, default 20; the issue's minute: BERTH_FAULT_SECONDS=60). Each
 * client owns its containers, so every exit code is known in advance; all of them also race for a
 * few shared names, where exactly one may win. Afterwards: SQLite intact, no duplicate names,
 * every container removable, nothing left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readdirSync } from 'node:fs';
import { strays } from '../helpers/fault.js';
import { CGROUP_V1, cannotRun, mountsUnder, withCli, type Cli, type Result } from './run-util.js';

/** Container cgroups (64-hex names under the default parent) in every v1 hierarchy. */
function containerCgroups(): Set<string> {
  const out = new Set<string>();
  for (const ctrl of readdirSync(CGROUP_V1)) {
    try { for (const n of readdirSync(`${CGROUP_V1}/${ctrl}/berth`)) if (/^[0-9a-f]{64}$/.test(n)) out.add(`${ctrl}/${n}`); } catch { /* no such hierarchy or parent */ }
  }
  return out;
}

const skip = cannotRun();
const CLIENTS = 50;
const SECONDS = Number(process.env.BERTH_FAULT_SECONDS ?? 20);

interface Tally { calls: number; byOp: Record<string, number>; conflicts: number; wins: number }

test(`${CLIENTS} concurrent CLIs for ${SECONDS} s: right exit codes, no duplicate names, SQLite intact, nothing left`, {
  skip, timeout: (SECONDS + 240) * 1000,
}, (t) => withCli(async (c: Cli) => {
  const cgroupsBefore = containerCgroups();
  const tally: Tally = { calls: 0, byOp: {}, conflicts: 0, wins: 0 };
  const failures: string[] = [];
  const call = async (op: string, args: string[], want: (r: Result) => boolean): Promise<Result> => {
    const r = await c.berth(args, { timeoutMs: 120000 });
    tally.calls++;
    tally.byOp[op] = (tally.byOp[op] ?? 0) + 1;
    if (!want(r)) failures.push(`berth ${args.join(' ')}: exit ${r.code ?? r.signal}\n  out: ${r.out.trim()}\n  err: ${r.err.trim()}`);
    return r;
  };
  const ok = (r: Result) => r.code === 0;

  const client = async (k: number) => {
    const mine: string[] = [];
    let serial = 0;
    let end = Infinity; // SECONDS of mixed calls after this client's first container runs
    while (Date.now() < end && failures.length < 5) {
      const roll = Math.random();
      const name = `c${k}-${serial++}`;
      if (roll < 0.15 || mine.length === 0) {
        const r = await call('run -d', ['run', '-d', '--name', name, 'busybox', 'sh', '-c', `echo hello-${name}; sleep 300`], ok);
        if (r.code === 0) mine.push(name);
        if (end === Infinity) end = Date.now() + SECONDS * 1000;
      } else if (roll < 0.3) {
        const token = `tok-${k}-${serial}`;
        await call('run --rm', ['run', '--rm', 'busybox', 'echo', token], (r) => ok(r) && r.out === `${token}\n`);
      } else if (roll < 0.42) {
        const victim = mine.splice(Math.floor(Math.random() * mine.length), 1)[0]!;
        await call('rm -f', ['rm', '-f', victim], (r) => ok(r) && r.out === `${victim}\n`);
      } else if (roll < 0.54) {
        await call('ps', ['ps', '-a', '--format', '{{.Names}}'], ok);
      } else if (roll < 0.66) {
        const n = mine[Math.floor(Math.random() * mine.length)]!;
        await call('logs', ['logs', n], (r) => ok(r) && r.out.startsWith('hello-c'));
      } else if (roll < 0.78) {
        const n = mine[Math.floor(Math.random() * mine.length)]!;
        await call('exec', ['exec', n, 'echo', 'in', n], (r) => ok(r) && r.out === `in ${n}\n`);
      } else if (roll < 0.9) {
        const i = Math.floor(Math.random() * mine.length);
        const to = `${name}-r`;
        const r = await call('rename', ['rename', mine[i]!, to], ok);
        if (r.code === 0) mine[i] = to;
      } else {
        // a shared name: exactly one creator may hold it at a time
        const shared = `shared-${Math.floor(Math.random() * 3)}`;
        const r = await call('create shared', ['create', '--name', shared, 'busybox', 'true'], (r) => r.code === 0 || (r.code === 125 && /is already in use/.test(r.err)));
        if (r.code === 0) {
          tally.wins++;
          await call('rm shared', ['rm', shared], ok);
        } else tally.conflicts++;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));
  t.diagnostic(`concurrent CLIs: ${tally.calls} calls (${Object.entries(tally.byOp).map(([k, v]) => `${k} ${v}`).join(', ')}), shared names won ${tally.wins}, refused ${tally.conflicts}`);
  assert.deepEqual(failures, [], `${failures.length} calls went wrong`);

  const db = new Database(join(c.root, 'engine.db'), { readonly: true });
  try {
    assert.equal((db.prepare('PRAGMA integrity_check').get() as Record<string, string>).integrity_check, 'ok');
  } finally { db.close(); }
  const names = (await c.ok(['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter(Boolean);
  assert.equal(new Set(names).size, names.length, `duplicate names: ${names.join(' ')}`);
  const ids = await c.ids();
  if (ids.length) await c.ok(['rm', '-f', ...ids], { timeoutMs: 300000 });
  const left = ids.flatMap((id) => c.leftovers(id));
  assert.deepEqual(left, [], 'left behind');
  assert.deepEqual(await c.ids(), []);
  // and of the containers removed during the run (rm -f, run --rm, the shared names): nothing either
  assert.deepEqual(strays(c), [], 'entries named after a removed container');
  assert.deepEqual([...mountsUnder(c.runRoot), ...mountsUnder(c.root)], [], 'mounts under the roots');
  assert.deepEqual([...containerCgroups()].filter((g) => !cgroupsBefore.has(g)), [], 'cgroups of removed containers');
}));
