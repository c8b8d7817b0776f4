import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { BerthError } from '../../src/lib/index.js';
import { compressionOfMediaType, decompress, detectCompression } from '../../src/snapshots/index.js';
import { streamOf } from './helpers.js';

async function all(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));

test('decompress: gzip, zstd and plain, whatever the media type says', async () => {
  const gz = gzipSync(data);
  const zst = execFileSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 26 });
  assert.equal(detectCompression(gz), 'gzip');
  assert.equal(detectCompression(zst), 'zstd');
  assert.equal(detectCompression(data), 'none');
  for (const mt of ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar', undefined]) {
    assert.deepEqual(await all(decompress(streamOf(gz, 3), mt)), data, `gzip as ${mt}`);
    assert.deepEqual(await all(decompress(streamOf(zst, 1000), mt)), data, `zstd as ${mt}`);
    assert.deepEqual(await all(decompress(streamOf(data, 5000), mt)), data, `plain as ${mt}`);
  }
  // several gzip members and several zstd frames concatenated
  assert.deepEqual(await all(decompress(streamOf(Buffer.concat([gzipSync(data), gzipSync(data)])))), Buffer.concat([data, data]));
  assert.deepEqual(await all(decompress(streamOf(Buffer.concat([zst, zst])))), Buffer.concat([data, data]));
  assert.deepEqual(await all(decompress(Readable.from([], { objectMode: false }))), Buffer.alloc(0));
});

test('decompress: corrupt or truncated data fails as invalid', async () => {
  const gz = gzipSync(data);
  const zst = execFileSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 1 << 26 });
  const broken = Buffer.from(gz);
  broken.fill(0x55, 100, 200);
  for (const [name, buf] of [['gzip corrupt', broken], ['gzip truncated', gz.subarray(0, gz.length / 2)], ['zstd truncated', zst.subarray(0, zst.length / 2)]] as const) {
    await assert.rejects(all(decompress(streamOf(buf))), (e: unknown) => {
      assert.ok(e instanceof BerthError, `${name}: ${e}`);
      assert.equal(e.kind, 'invalid');
      assert.match(e.message, /decompress layer/);
      return true;
    });
  }
});

test('compressionOfMediaType: OCI and Docker layer media types', () => {
  assert.equal(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+gzip'), 'gzip');
  assert.equal(compressionOfMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  assert.equal(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  assert.equal(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar'), 'none');
  assert.equal(compressionOfMediaType('application/vnd.docker.image.rootfs.diff.tar'), 'none');
  assert.equal(compressionOfMediaType('application/json'), undefined);
});
