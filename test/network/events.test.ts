/**
 * Network events of a container's life, as Docker's: `connect` of each of its networks when it
 * starts and `disconnect` when it stops (the container's id in the attributes), besides those of
 * `network connect` / `disconnect`.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { cannotRunNet, withNetCli } from './engine-util.js';

const skip = cannotRunNet();

test('a container\'s start and stop give a network connect and disconnect event for each of its networks', { skip }, async () => {
  await withNetCli(async (c) => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await c.ok(['network', 'create', 'evnet']);
    const id = await c.ok(['run', '-d', '--network', 'evnet', 'busybox', 'sleep', '60']);
    await c.ok(['stop', '-t', '0', id]);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const out = await c.ok(['events', '--since', since, '--until', until, '--filter', 'type=network', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}']);
    const lines = out.split('\n');
    assert.deepEqual(lines.filter((l) => /^(connect|disconnect) evnet /.test(l)), [`connect evnet ${id}`, `disconnect evnet ${id}`], out);
  });
});
