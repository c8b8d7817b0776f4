/**
 * The small parsers behind the metadata instructions and COPY: Go durations (HEALTHCHECK), port
 * specs (EXPOSE), `--chmod` (octal and symbolic), `--chown` against passwd/group files,
 * HEALTHCHECK's config and history text, Go's path.Match for COPY wildcards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exposedPorts, formatDuration, healthcheck, healthHistory, parseChmod, parseDuration, resolveChown } from '../../src/build/config.js';
import { pathMatch } from '../../src/build/copy.js';

test('Go durations', () => {
  const ok: Array<[string, number]> = [['1m30s', 90e9], ['1.5h', 5400e9], ['300ms', 3e8], ['0', 0], ['2us', 2000], ['1h1m1s', 3661e9]];
  for (const [s, ns] of ok) assert.equal(parseDuration(s), ns, s);
  assert.throws(() => parseDuration('5'), /missing unit in duration "5"/);
  assert.throws(() => parseDuration('x'), /invalid duration "x"/);
  const fmt: Array<[number, string]> = [[90e9, '1m30s'], [5e9, '5s'], [1.5e9, '1.5s'], [3e8, '300ms'], [0, '0s'], [3600e9, '1h0m0s']];
  for (const [ns, s] of fmt) assert.equal(formatDuration(ns), s, s);
});

test('EXPOSE port specs', () => {
  assert.deepEqual(exposedPorts(['80', '53/udp', '8000-8002', '9/SCTP']), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp', '9/sctp']);
  assert.throws(() => exposedPorts(['80/xyz']), /invalid proto: xyz/);
  assert.throws(() => exposedPorts(['http']), /invalid containerPort: http/);
});

test('--chmod: octal and symbolic', () => {
  const cases: Array<[string, number, boolean, number]> = [
    ['755', 0o600, false, 0o755], ['u+x', 0o644, false, 0o744], ['go-r', 0o644, false, 0o600], ['a=rX', 0o700, true, 0o555],
    ['a=rX', 0o644, false, 0o444], ['a=rX', 0o744, false, 0o555], ['u=rwx,g=rx,o=', 0, false, 0o750], ['+t', 0o777, true, 0o1777], ['u+s', 0o755, false, 0o4755],
  ];
  for (const [spec, mode, dir, want] of cases) assert.equal(parseChmod(spec)(mode, dir), want, `${spec} on ${mode.toString(8)}`);
  assert.throws(() => parseChmod('bogus'), /invalid chmod parameter: 'bogus'/);
  assert.throws(() => parseChmod('8'), /invalid chmod parameter/);
});

test('--chown: numbers, names from passwd and group', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65533:nobody:/:/bin/false\n';
  const group = 'root:x:0:\nstaff:x:50:\n';
  assert.deepEqual(resolveChown('1', undefined, undefined), { uid: 1, gid: 1 });
  assert.deepEqual(resolveChown('1:2', undefined, undefined), { uid: 1, gid: 2 });
  assert.deepEqual(resolveChown('nobody', passwd, group), { uid: 65534, gid: 65533 });
  assert.deepEqual(resolveChown('nobody:staff', passwd, group), { uid: 65534, gid: 50 });
  assert.deepEqual(resolveChown('5:staff', passwd, group), { uid: 5, gid: 50 });
  assert.throws(() => resolveChown('daemon', passwd, group), /can't find uid for user daemon: no such user: daemon/);
  assert.throws(() => resolveChown('root:wheel', passwd, group), /can't find gid for group wheel: no such group: wheel/);
});

test('HEALTHCHECK config and history', () => {
  const h = healthcheck(['CMD', 'curl -f x'], false, { interval: '5s', retries: '3' });
  assert.deepEqual(h, { Test: ['CMD-SHELL', 'curl -f x'], Interval: 5e9, Retries: 3 });
  assert.equal(healthHistory(h), `HEALTHCHECK &{["CMD-SHELL" "curl -f x"] "5s" "0s" "0s" "0s" '\\x03'}`);
  assert.deepEqual(healthcheck(['CMD', 'a', 'b'], true, {}), { Test: ['CMD', 'a', 'b'] });
  assert.deepEqual(healthcheck(['none'], false, {}), { Test: ['NONE'] });
  assert.throws(() => healthcheck(['NONE', 'x'], false, {}), /HEALTHCHECK NONE takes no arguments/);
  assert.throws(() => healthcheck(['RUN', 'x'], false, {}), /Unknown type "RUN" in HEALTHCHECK \(try CMD\)/);
  assert.throws(() => healthcheck(['CMD'], false, {}), /Missing command after HEALTHCHECK CMD/);
  assert.throws(() => healthcheck(['CMD', 'x'], false, { timeout: '100us' }), /Interval "timeout" cannot be less than 1ms/);
  assert.throws(() => healthcheck(['CMD', 'x'], false, { retries: '-1' }), /--retries cannot be negative \(-1\)/);
});

test('COPY wildcards: Go path.Match', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*.txt', 'a.txt', true], ['*.txt', 'd/a.txt', false], ['d/*', 'd/a', true], ['?.go', 'a.go', true], ['?.go', 'ab.go', false],
    ['[a-c]x', 'bx', true], ['[^a-c]x', 'dx', true], ['[^a-c]x', 'ax', false], ['a\\*', 'a*', true], ['a\\*', 'ab', false],
  ];
  for (const [p, n, want] of cases) assert.equal(pathMatch(p, n), want, `${p} ~ ${n}`);
});
