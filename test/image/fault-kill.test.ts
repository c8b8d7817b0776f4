/**
 * `kill -9` of the CLI at random (seeded, printed) points of pull, commit, load and save: no
 * half-written image is ever listed, the store stays usable, a retry succeeds, and after the
 * retry nothing of the killed writer is left (ingests, temp files, leases, unpack snapshots);
 * after a prune no blob or layer snapshot is orphaned. BERTH_FAULT_SEED replays a run,
 * BERTH_FAULT_KILLS sets the kills per operation (default 2).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, busyboxLayer, haveRegistry, layerFromTar, pushImageRaw, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { cannotRun, withCli, type Cli } from '../cli/run-util.js';
import { BerthError } from '../../src/lib/index.js';
import { closeContext, remove, type ImageContext } from '../../src/image/index.js';
import { faultSeed, leftovers, orphans, randomFileTar, seeded, verifyImages } from './fault-util.js';

const skip = cannotRun() || (haveRegistry() ? false : 'docker-registry is not installed');
const KILLS = Number(process.env.BERTH_FAULT_KILLS ?? 2);


/** `rmi -f` without a CLI start (the store is the same): quicker set-up between kills. */
async function rmiInProcess(root: string, ref: string): Promise<void> {
  const ctx: ImageContext = { root };
  try {
    await remove(ctx, ref, { force: true });
  } catch (e) {
    if (!(e instanceof BerthError && e.kind === 'notfound')) throw e;
  } finally {
    await closeContext(ctx);
  }
}

interface Stats { kills: number; landed: number; checks: number; leaks: string[] }

/** Start `args`, SIGKILL it after `delayMs`; whether it was still running then. */
async function killAt(c: Cli, args: string[], delayMs: number): Promise<boolean> {
  const child = c.spawn(args);
  child.stdout!.resume();
  child.stderr!.resume();
  child.stdin!.end();
  let exited = false;
  const closed = new Promise<void>((resolve) => child.on('close', () => { exited = true; resolve(); }));
  await new Promise((r) => setTimeout(r, delayMs));
  const landed = !exited;
  child.kill('SIGKILL');
  await closed;
  return landed;
}

async function timed(c: Cli, args: string[]): Promise<number> {
  const t = Date.now();
  await c.ok(args);
  return Date.now() - t;
}

/**
 * One operation under fire: `prepare` puts the store back where the operation starts, `args` is
 * the command killed and then retried, `after` checks what the retry made.
 */
async function underFire(t: TestContext, c: Cli, rnd: () => number, stats: Stats, name: string, o: {
  prepare: () => Promise<void>; args: string[]; after?: () => Promise<void>; extraDirs?: string[];
}): Promise<void> {
  await o.prepare();
  const d = await timed(c, o.args); // an undisturbed run: how long the operation takes
  for (let k = 0; k < KILLS; k++) {
    await o.prepare();
    const delay = Math.round(d * (0.15 + 0.85 * rnd()));
    stats.kills++;
    if (await killAt(c, o.args, delay)) stats.landed++;
    // the next command lists only complete images
    const listed = await c.ok(['images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']);
    const problems = await verifyImages(c.root);
    stats.checks++;
    assert.deepEqual(problems, [], `${name}, killed after ${delay} ms: listed ${listed}`);
    // a retry succeeds and leaves nothing of the killed writer
    await c.ok(o.args);
    await o.after?.();
    const left = leftovers(c.root, o.extraDirs);
    stats.checks++;
    stats.leaks.push(...left.map((l) => `${name} (killed after ${delay} ms): ${l}`));
  }
  await c.ok(['image', 'prune', '-f']);
  const orphaned = await orphans(c.root);
  stats.checks++;
  stats.leaks.push(...orphaned.map((l) => `${name}, after prune: ${l}`));
  t.diagnostic(`${name}: undisturbed run ${d} ms`);
}

test('kill -9 of pull, commit, load and save at random points', { skip, timeout: 240_000 }, async (t) => {
  const seed = faultSeed();
  t.diagnostic(`seed ${seed} (BERTH_FAULT_SEED=${seed} replays it), ${KILLS} kills per operation`);
  const rnd = seeded(seed);
  const stats: Stats = { kills: 0, landed: 0, checks: 0, leaks: [] };
  const reg: TestRegistry = await startRegistry();
  const out = mkdtempSync(join(tmpdir(), 'berth-fault-out-'));
  try {
    const img = buildImage([busyboxLayer(), layerFromTar(randomFileTar('payload', 4 << 20), 'none')]);
    await pushImageRaw(reg, 'big', 'latest', img);
    const name = `${reg.host}/big:latest`;
    await withCli(async (c) => {
      const absent = () => rmiInProcess(c.root, name);
      await underFire(t, c, rnd, stats, 'pull', { prepare: absent, args: ['pull', '-q', name] });

      await c.ok(['run', '--name', 'writer', 'busybox', 'sh', '-c', 'head -c 4000000 /dev/urandom > /data']);
      await underFire(t, c, rnd, stats, 'commit', {
        prepare: () => rmiInProcess(c.root, 'snap:1'),
        args: ['commit', 'writer', 'snap:1'],
      });

      await c.ok(['pull', '-q', name]);
      const tar = join(out, 'big.tar');
      await c.ok(['save', '-o', tar, name]);
      await underFire(t, c, rnd, stats, 'load', { prepare: absent, args: ['load', '-q', '-i', tar] });

      const saved = join(out, 'again.tar');
      await underFire(t, c, rnd, stats, 'save', {
        prepare: async () => { rmSync(saved, { force: true }); },
        args: ['save', '-o', saved, name],
        after: async () => { assert.equal(statSync(saved).size, statSync(tar).size, 'the retried save is whole'); },
        extraDirs: [out],
      });
      assert.deepEqual(readdirSync(out).sort(), ['again.tar', 'big.tar']);
      assert.ok(existsSync(saved));
      // the store is usable after all this: run the committed image
      assert.equal(await c.ok(['run', '--rm', 'snap:1', 'sh', '-c', 'wc -c < /data']), '4000000');
    });
  } finally {
    await reg.stop();
    rmSync(out, { recursive: true, force: true });
    t.diagnostic(`kills tried ${stats.kills} (${stats.landed} while the command ran), checks ${stats.checks}, leaks found ${stats.leaks.length}`);
    for (const l of stats.leaks) t.diagnostic(`leak: ${l}`);
  }
  assert.deepEqual(stats.leaks, []);
  assert.ok(stats.landed > 0, 'no kill landed while its command ran: nothing was tested');
});
