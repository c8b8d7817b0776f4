/** Stream helpers shared by the layer writers. */
import { Transform } from 'node:stream';

/**
 * A pass-through that hands its input on in chunks of at least `size` bytes (the last one may be
 * smaller), showing each input chunk to `see` first (a digest, a count). zlib does one thread-pool
 * job per chunk written to it, and a tar of 10,000 small files comes as 20,000 chunks of 512 bytes.
 */
export function coalesce(see?: (chunk: Buffer) => void, size = 64 * 1024): Transform {
  let parts: Buffer[] = [];
  let len = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      see?.(chunk);
      parts.push(chunk);
      len += chunk.length;
      if (len < size) return cb();
      const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, len);
      parts = [];
      len = 0;
      cb(null, out);
    },
    flush(cb) {
      cb(null, len ? Buffer.concat(parts, len) : undefined);
    },
  });
}
