/**
 * Soak: the fault suite of test/cli/fault-kill.test.ts at length. `kill -9` of the CLI during
 * `run`, `run -d`, `start`, `stop`, `rm -f`, of a monitor, and of a worker serving `run -d`, at
 * seeded random moments, round after round, until KILLS kills were tried; after each, every record
 * is compared with the kernel (running ⇔ alive, under a live monitor), `rm -f` removes it, and
 * what stays (mounts, cgroups of every hierarchy, lock, run dir, runtime state) is counted.
 * Not run in CI. Run as root, after `npm run build`:
 *   node build/bench/soak.js [KILLS=200] [SEED]
 * Prints the counts (and every lie, leak or failure); writes bench/results/soak-<date>.json;
 * exits 1 when anything was wrong.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/probe.js';
import { FaultRun, prng, summary, VICTIMS } from '../test/helpers/fault.js';
import { haveFront } from '../test/helpers/worker.js';
import { cannotRun, withCli } from '../test/cli/run-util.js';

const KILLS = Number(process.argv[2] ?? 200);
const SEED = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31));

async function main(): Promise<number> {
  const why = cannotRun() || (!haveFront() && 'the native front (dist/berth) is not built');
  if (why) { console.error(`soak: cannot run: ${why}`); return 2; }
  console.log(`soak: seed ${SEED} (node build/bench/soak.js ${KILLS} ${SEED} replays it), ${KILLS} kills`);
  const t0 = Date.now();
  let run!: FaultRun;
  let round = 0;
  await withCli(async (c) => {
    run = new FaultRun(c, prng(SEED), process.env.SOAK_VERBOSE ? (l) => console.log(l) : undefined);
    while (run.counts.kills < KILLS) {
      for (const v of VICTIMS) {
        await run.trial(v, round);
        if (run.counts.kills >= KILLS) break;
      }
      round++;
      if (round % 3 === 0) console.log(`  round ${round}, ${Math.round((Date.now() - t0) / 1000)} s: ${summary(run.counts)}`);
    }
  });
  const c = run.counts;
  for (const l of [...c.lies, ...c.leaks, ...c.failures]) console.log(`  ${l}`);
  console.log(`soak: seed ${SEED}, ${Math.round((Date.now() - t0) / 1000)} s: ${summary(c)}`);
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.json`);
  writeFileSync(file, JSON.stringify({ seed: SEED, kills: KILLS, seconds: Math.round((Date.now() - t0) / 1000), counts: c }, null, 2) + '\n');
  console.log(`soak: results in ${file}`);
  return c.lies.length || c.leaks.length || c.failures.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
