/**
 * A network whose name no DNS query can spell (a space in it): its containers still find each
 * other by name; only the `name.network` form, which cannot be asked for, is left out.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { cannotRunNet, withNetCli } from './engine-util.js';

const skip = cannotRunNet();

test('a network named with a space: containers start on it and resolve each other by name', { skip }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['network', 'create', 'my net']);
    await c.ok(['run', '-d', '--network', 'my net', '--name', 'web', 'busybox', 'sleep', '60']);
    const ip = await c.ok(['inspect', '-f', '{{(index .NetworkSettings.Networks "my net").IPAddress}}', 'web']);
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    const r = await c.berth(['run', '--rm', '--network', 'my net', 'busybox', 'nslookup', 'web', '127.0.0.11']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, new RegExp(`Address: ${ip.replace(/\./g, '\\.')}`));
  });
});
