/**
 * Detach keys apply only with a terminal (-t), as in Docker (container/stream: copyEscapable only
 * when the container has a tty) and podman: without one, stdin is data and every byte reaches the
 * container, 0x10 0x11 (ctrl-p ctrl-q) included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cannotRun, withCli } from './run-util.js';

const skip = cannotRun();

test('`run -i` without a tty passes ctrl-p ctrl-q through as data', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const r = await c.berth(['run', '--rm', '-i', 'busybox', 'wc', '-c'], { input: Buffer.from('ab\x10\x11cd', 'latin1') });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), '6');
  // 16 KiB with the key sequence placed in it, plus random bytes around
  const data = Buffer.concat([randomBytes(8000), Buffer.from([0x10, 0x11, 0x10, 0x10, 0x11]), randomBytes(16384 - 8005)]);
  const r2 = await c.berth(['run', '--rm', '-i', 'busybox', 'wc', '-c'], { input: data });
  assert.equal(r2.code, 0, r2.err);
  assert.equal(r2.out.trim(), '16384');
  assert.deepEqual(await c.ids(), [], 'no --rm container left running');
}));

test('`start -ai` and `attach` without a tty pass ctrl-p ctrl-q through as data', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const id = await c.ok(['create', '-i', 'busybox', 'wc', '-c']);
  const r = await c.berth(['start', '-ai', id], { input: Buffer.from('ab\x10\x11cd', 'latin1') });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), '6');
  const id2 = await c.ok(['run', '-d', '-i', 'busybox', 'sh', '-c', 'sleep 0.5; wc -c']);
  const r2 = await c.berth(['attach', id2], { input: Buffer.from('x\x10\x11yz', 'latin1') });
  assert.equal(r2.code, 0, r2.err);
  assert.equal(r2.out.trim(), '5');
}));
