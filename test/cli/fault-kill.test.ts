/**
 * The fault suite for the container lifecycle (test/helpers/fault.ts): kill -9 of the CLI during
 * `run`, `run -d`, `start`, `stop`, `rm -f`, of a monitor, and of a worker serving `run -d`, at
 * random moments. Afterwards every record must tell the truth, `rm -f` must remove it and nothing
 * may stay. The seed is printed (BERTH_FAULT_SEED=N replays a run); BERTH_FAULT_TRIALS sets the
 * kills per victim (default 2: the suite stays well under 90 s; bench/soak.ts does hundreds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultSeed, FaultRun, prng, summary, VICTIMS } from '../helpers/fault.js';
import { haveFront } from '../helpers/worker.js';
import { cannotRun, withCli } from './run-util.js';

const skip = cannotRun() || (!haveFront() && 'the native front (dist/berth) is not built');
const seed = faultSeed();
const trials = Number(process.env.BERTH_FAULT_TRIALS ?? 2);

test('kill -9 at random moments: every state true, rm -f leaves nothing', { skip, timeout: 170_000 }, (t) => withCli(async (c) => {
  t.diagnostic(`seed ${seed} (BERTH_FAULT_SEED=${seed} replays it), ${trials} kills per victim`);
  const rand = prng(seed);
  const run = new FaultRun(c, rand, (l) => t.diagnostic(l));
  for (let n = 0; n < trials; n++) {
    for (const v of VICTIMS) await run.trial(v, n);
  }
  t.diagnostic(summary(run.counts));
  assert.deepEqual(run.counts.failures, [], `seed ${seed}`);
  assert.deepEqual(run.counts.lies, [], `seed ${seed}`);
  assert.deepEqual(run.counts.leaks, [], `seed ${seed}`);
  assert.ok(run.counts.kills > 0, `no kill landed while its command ran: nothing was tested (seed ${seed})`);
}));
