import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  familiarName, familiarString, formatReference, normalize, parseReference, parsePlatform, platformMatches, selectManifest, formatPlatform,
} from '../../src/image/index.js';

const H = 'sha256:' + 'a'.repeat(64);

test('references are normalised like Docker', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
    ['localhost:5000/a/b/c:v1.2_3-x', 'localhost:5000/a/b/c:v1.2_3-x', 'localhost:5000/a/b/c:v1.2_3-x'],
    ['127.0.0.1:5000/busybox', '127.0.0.1:5000/busybox:latest', '127.0.0.1:5000/busybox:latest'],
    ['[::1]:5000/busybox:t', '[::1]:5000/busybox:t', '[::1]:5000/busybox:t'],
    ['Registry.Example.com/x', 'Registry.Example.com/x:latest', 'Registry.Example.com/x:latest'],
    [`busybox@${H}`, `docker.io/library/busybox@${H}`, `busybox@${H}`],
    [`host:1/busybox:tag@${H}`, `host:1/busybox:tag@${H}`, `host:1/busybox:tag@${H}`],
    ['a.b/c__d/e-f/g.h', 'a.b/c__d/e-f/g.h:latest', 'a.b/c__d/e-f/g.h:latest'],
  ];
  for (const [input, full, familiar] of cases) {
    const r = parseReference(input);
    assert.equal(formatReference(r), full, input);
    assert.equal(familiarString(r), familiar, input);
    assert.equal(normalize(input), full);
  }
  const r = parseReference(`host:1/busybox:tag@${H}`);
  assert.deepEqual(r, { domain: 'host:1', path: 'busybox', tag: 'tag', digest: H });
  assert.equal(familiarName(parseReference('docker.io/library/a/b')), 'library/a/b');
  assert.deepEqual(parseReference('busybox', { defaultTag: false }), { domain: 'docker.io', path: 'library/busybox' });
});

test('bad names are refused with clear errors', () => {
  const bad: [string, RegExp][] = [
    ['', /empty reference/],
    ['Busybox', /repository name \(library\/Busybox\) must be lowercase/],
    ['docker.io/User/app', /must be lowercase/],
    ['busy box', /invalid repository name component/],
    ['busybox:', /invalid tag ""/],
    ['busybox:-x', /invalid tag/],
    [`busybox:${'x'.repeat(129)}`, /invalid tag/],
    ['busybox@sha256:abc', /invalid digest/],
    [`busybox@sha256:${'A'.repeat(64)}`, /invalid/],
    ['a'.repeat(64), /64-byte hexadecimal/],
    ['/busybox', /invalid/],
    ['a//b', /invalid repository name component ""/],
    ['-host:5000/x', /invalid registry host|invalid repository name component/],
    [`x/${'a'.repeat(260)}`, /longer than 255/],
  ];
  for (const [input, re] of bad) {
    assert.throws(() => parseReference(input), (e: Error & { kind?: string }) => {
      assert.match(e.message, /invalid reference format/, input);
      assert.match(e.message, re, input);
      assert.equal(e.kind, 'usage');
      return true;
    }, input);
  }
});

test('platforms: parsing, normalising, matching and choosing from an index', () => {
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.throws(() => parsePlatform('linux/amd64/v1/extra'), /invalid platform/);
  assert.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }), 'linux/arm/v6');
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'windows', architecture: 'amd64' }));
  const d = (architecture: string, variant?: string, n = 'a') => ({ mediaType: 'm', digest: 'sha256:' + n.repeat(64), size: 1, platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) } });
  const list = [d('amd64', undefined, 'a'), d('arm', 'v6', 'b'), d('arm', 'v7', 'c'), d('arm64', 'v8', 'd')];
  assert.equal(selectManifest(list, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest, list[2]!.digest);
  assert.equal(selectManifest(list, { os: 'linux', architecture: 'arm64' }, 'x').digest, list[3]!.digest);
  assert.equal(selectManifest([list[1]!], { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest, list[1]!.digest);
  assert.throws(() => selectManifest(list, { os: 'linux', architecture: 's390x' }, 'pull x'),
    /no matching manifest for linux\/s390x in the manifest list entries \(available: linux\/amd64, linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\)/);
});
