import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { BerthError } from '../../src/lib/index.js';
import { SIGNALS, parseSignal, signalName } from '../../src/oci/index.js';

test('names, SIG-prefixed names, lower case and numbers', () => {
  for (const s of ['KILL', 'SIGKILL', 'kill', 'sigkill', '9', ' 9 ']) assert.equal(parseSignal(s), 9, s);
  assert.equal(parseSignal(15), 15);
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('SIGHUP'), 1);
  assert.equal(parseSignal('WINCH'), 28);
  assert.equal(parseSignal('IOT'), 6);
  assert.equal(parseSignal('SIGCLD'), 17);
  assert.equal(parseSignal('POLL'), 29);
});

test('real-time signals', () => {
  assert.equal(parseSignal('SIGRTMIN'), 34);
  assert.equal(parseSignal('SIGRTMIN+3'), 37);
  assert.equal(parseSignal('RTMIN+3'), 37);
  assert.equal(parseSignal('rtmax'), 64);
  assert.equal(parseSignal('SIGRTMAX-1'), 63);
  assert.equal(parseSignal('SIGRTMAX-30'), 34);
  assert.equal(parseSignal('64'), 64);
  for (const n of [34, 35, 49, 50, 63, 64]) assert.equal(parseSignal(signalName(n)), n);
  assert.equal(signalName(37), 'SIGRTMIN+3');
  assert.equal(signalName(49), 'SIGRTMIN+15');
  assert.equal(signalName(50), 'SIGRTMAX-14');
  assert.equal(signalName(63), 'SIGRTMAX-1');
});

test('number to name', () => {
  assert.equal(signalName(9), 'SIGKILL');
  assert.equal(signalName(6), 'SIGABRT');
  assert.equal(signalName(17), 'SIGCHLD');
  for (const [name, n] of Object.entries(SIGNALS)) assert.equal(signalName(n), name);
});

test('agrees with Node\'s own signal table', () => {
  for (const [name, n] of Object.entries(constants.signals)) {
    if (name === 'SIGUNUSED') continue;
    assert.equal(parseSignal(name), n, name);
  }
});

test('unknown signals are errors', () => {
  for (const s of ['FOO', 'SIGFOO', '0', '65', '32', '-1', 'SIGRTMIN+31', 'SIGRTMIN-1', 'SIGRTMAX+1', '', '9x', '1.5']) {
    assert.throws(() => parseSignal(s), (e: unknown) => e instanceof BerthError && e.kind === 'usage' && /signal/.test(e.message), s);
  }
  assert.throws(() => parseSignal(0), /unknown signal "0"/);
  assert.throws(() => parseSignal('FOO'), /unknown signal "FOO"/);
  for (const n of [0, 32, 33, 65, 1.5]) assert.throws(() => signalName(n), /unknown signal number/);
});
