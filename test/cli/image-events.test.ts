/**
 * Image events of the berth CLI: `tag`, `save`, `rmi`, `load`, `import`, `image prune`, `push`
 * and `pull` log the events `berth serve` logs for the same operations (moby's actions, actor
 * ids and `name` attributes), once, in the data root's event log that `berth events` reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli, type Cli } from './run-util.js';
import { haveRegistry, startRegistry } from '../helpers/registry.js';

const skip = cannotRun();
const FORMAT = '{{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}';

async function imageEvents(c: Cli, since: string): Promise<string[]> {
  const out = await c.ok(['events', '--since', since, '--until', new Date(Date.now() + 1).toISOString(), '--filter', 'type=image', '--format', FORMAT]);
  return out.split('\n').filter(Boolean);
}

test('image events: tag, save, rmi, load, import, image prune from the CLI, as berth serve logs them', { skip, timeout: 120_000 }, () => withCli(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-imgev-'));
  try {
    const id = await c.ok(['image', 'inspect', '--format', '{{.Id}}', 'busybox:latest']);
    const since = new Date().toISOString();
    await c.ok(['tag', 'busybox:latest', 'evt/one:v1']);
    await c.ok(['save', '-o', join(dir, 'one.tar'), 'evt/one:v1']);
    await c.ok(['rmi', 'evt/one:v1']);
    await c.ok(['load', '-i', join(dir, 'one.tar')]);
    writeFileSync(join(dir, 'hello'), 'hi\n');
    execFileSync('tar', ['-cf', join(dir, 'root.tar'), '-C', dir, 'hello']);
    const imported = await c.ok(['import', '-c', 'LABEL team=evt', join(dir, 'root.tar'), 'evt/imp:latest']);
    await c.ok(['rmi', 'evt/imp']);
    const dangling = await c.ok(['import', join(dir, 'root.tar')]);
    await c.ok(['image', 'prune', '-f']);
    const ev = await imageEvents(c, since);
    assert.deepEqual(ev, [
      `tag ${id} {"name":"evt/one:v1"}`,
      `save ${id} {"name":"${id}"}`, // moby's: the image id, as actor and name
      `untag ${id} {"name":"evt/one:v1"}`,
      `load ${id} {"name":"${id}"}`,
      // moby's import: the tag, then the import named by the id; the image's labels in both
      `tag ${imported} {"team":"evt","name":"evt/imp:latest"}`,
      `import ${imported} {"team":"evt","name":"${imported}"}`,
      `untag ${imported} {"team":"evt","name":"evt/imp:latest"}`,
      `delete ${imported} {}`, // gone: no labels
      `import ${dangling} {"name":"${dangling}"}`,
      `delete ${dangling} {}`,
      ev.at(-1)!.startsWith('prune  {"reclaimed":"') ? ev.at(-1)! : 'prune  {"reclaimed":…}',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}));

test('image events: push and pull from the CLI name the reference', { skip: skip || (!haveRegistry() && 'no docker-registry'), timeout: 120_000 }, async () => {
  const reg = await startRegistry();
  try {
    await withCli(async (c) => {
      const ref = `${reg.host}/evt/bb:v2`;
      const since = new Date().toISOString();
      await c.ok(['tag', 'busybox:latest', ref]);
      await c.ok(['push', '-q', ref]);
      await c.ok(['rmi', ref]);
      await c.ok(['pull', '-q', ref]);
      // and the pull `run` makes of a missing image
      await c.ok(['rmi', ref]);
      await c.ok(['run', '--rm', '--network', 'none', ref, 'true']);
      const ev = (await imageEvents(c, since)).filter((l) => /^(push|pull) /.test(l));
      const pulled = `pull ${ref} {"name":"${reg.host}/evt/bb"}`;
      assert.deepEqual(ev, [`push ${ref} {"name":"${reg.host}/evt/bb"}`, pulled, pulled]);
    });
  } finally {
    await reg.stop();
  }
});
