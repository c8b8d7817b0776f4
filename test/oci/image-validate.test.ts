import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BerthError } from '../../src/lib/index.js';
import {
  DockerMediaType, EMPTY_JSON_DIGEST, MediaType, digestProblem, validateDescriptor, validateImageConfig, validateImageIndex,
  validateImageLayout, validateImageManifest,
} from '../../src/oci/index.js';
import { sampleImageConfig, sampleIndex, sampleManifest } from './fixtures.js';
import { readJson } from './util.js';

function thrown(fn: () => void): BerthError {
  try { fn(); } catch (e) {
    assert.ok(e instanceof BerthError);
    assert.equal(e.kind, 'invalid');
    return e;
  }
  assert.fail('did not throw');
}

test('valid image documents pass', () => {
  validateImageManifest(sampleManifest());
  validateImageIndex(sampleIndex());
  validateImageConfig(sampleImageConfig());
  validateImageLayout({ imageLayoutVersion: '1.0.0' });
  validateDescriptor(sampleManifest().config);
  // Docker schema 2 forms are accepted too
  validateImageManifest({ ...sampleManifest(), mediaType: DockerMediaType.Manifest });
  validateImageIndex({ ...sampleIndex(), mediaType: DockerMediaType.ManifestList });
  // an unregistered algorithm only has to match the schema's digest grammar
  validateDescriptor({ ...sampleManifest().config, digest: 'blake3:abc' });
});

test('manifest problems', () => {
  const m = sampleManifest();
  m.layers[0].digest = 'sha256:' + 'A'.repeat(64);
  m.layers[1].size = -1;
  delete m.config.mediaType;
  const e = thrown(() => validateImageManifest(m, 'localhost:5000/busybox:latest'));
  assert.equal(e.op, 'validate image manifest');
  assert.equal(e.path, 'localhost:5000/busybox:latest');
  assert.equal(e.message, 'validate image manifest localhost:5000/busybox:latest: config.mediaType: is required; ' +
    'layers[0].digest: is not a valid sha256 digest; layers[1].size: must be >= 0');
  assert.equal(thrown(() => validateImageManifest({ ...sampleManifest(), layers: [] })).message,
    'validate image manifest: layers: must have at least 1 item');
  assert.equal(thrown(() => validateImageManifest({ ...sampleManifest(), mediaType: MediaType.ImageIndex })).message,
    `validate image manifest: mediaType: must be ${MediaType.ImageManifest} or ${DockerMediaType.Manifest}`);
  assert.equal(thrown(() => validateImageManifest({ ...sampleManifest(), schemaVersion: 1 })).message,
    'validate image manifest: schemaVersion: must be >= 2');
});

test('index, config, layout and descriptor problems', () => {
  const idx = sampleIndex();
  delete idx.manifests[1].platform.os;
  assert.equal(thrown(() => validateImageIndex(idx)).message, 'validate image index: manifests[1].platform.os: is required');
  const cfg = sampleImageConfig();
  cfg.rootfs.diff_ids[1] = 'sha256:xyz';
  cfg.rootfs.type = 'layer';
  assert.equal(thrown(() => validateImageConfig(cfg)).message,
    'validate image config: rootfs.type: must be one of "layers"; rootfs.diff_ids[1]: is not a valid sha256 digest');
  assert.equal(thrown(() => validateImageLayout({ imageLayoutVersion: '2.0.0' })).message,
    'validate oci-layout: imageLayoutVersion: must be one of "1.0.0"');
  assert.equal(thrown(() => validateDescriptor({ mediaType: 'x/y', size: 1, digest: 'nocolon' })).message,
    'validate descriptor: digest: must match pattern "^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"');
});

test('digest checks and the empty JSON digest', () => {
  assert.equal(EMPTY_JSON_DIGEST, 'sha256:' + createHash('sha256').update('{}').digest('hex'));
  assert.equal(digestProblem(EMPTY_JSON_DIGEST), undefined);
  assert.equal(digestProblem('sha512:' + 'f'.repeat(128)), undefined);
  assert.equal(digestProblem('sha512:' + 'f'.repeat(64)), 'is not a valid sha512 digest');
  assert.equal(digestProblem('sha256'), 'must be <algorithm>:<encoded>');
});

test('media type constants match the image-spec list', () => {
  const ref = readJson('src/oci/data/image-spec-v1.1.1/media-types.json').mediaTypes as { goConst: string; mediaType: string }[];
  const ours = Object.values(MediaType) as string[];
  assert.deepEqual([...ours].sort(), ref.map((m) => m.mediaType).sort());
  for (const m of ref) assert.equal((MediaType as Record<string, string>)[m.goConst.replace(/^MediaType/, '')], m.mediaType, m.goConst);
});
