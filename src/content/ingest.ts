/**
 * An ingest: a blob being written under `<root>/ingest/<ref>/data`, hashed as it is written.
 * It survives an interrupted download (close() keeps it, `offset()` says where to resume), and
 * `commit()` verifies size and digest before moving it atomically into `blobs/sha256/<hex>`.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp, type WriteStream, createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { BerthError, invalid, wrapError } from '../lib/index.js';
import { syncDir } from './atomic.js';
import { digestHex } from './digest.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

/** What the store gives an ingest: where to put a verified blob. */
export interface IngestTarget {
  blobPath(digest: string): string;
}

export class IngestWriter {
  readonly ref: string;
  readonly dir: string;
  private readonly target: IngestTarget;
  private readonly release: () => Promise<void>;
  private hash: Hash;
  private size: number;
  private out: WriteStream | undefined;
  private done = false;

  /** Use ContentStore.ingest(); this constructor expects the lock to be held already. */
  constructor(ref: string, dir: string, target: IngestTarget, release: () => Promise<void>, hash: Hash, size: number) {
    this.ref = ref;
    this.dir = dir;
    this.target = target;
    this.release = release;
    this.hash = hash;
    this.size = size;
  }

  /** Open (or resume) the ingest in `dir`: existing bytes are re-hashed so the digest stays right. */
  static async open(ref: string, dir: string, target: IngestTarget, release: () => Promise<void>): Promise<IngestWriter> {
    const hash = createHash('sha256');
    let size = 0;
    const data = join(dir, 'data');
    try {
      await new Promise<void>((resolve, reject) => {
        const rs = createReadStream(data);
        rs.on('data', (c) => { hash.update(c as Buffer); size += (c as Buffer).length; });
        rs.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve() : reject(e)));
        rs.on('end', resolve);
      });
    } catch (err) {
      await release();
      throw wrapError(err, `ingest ${ref}`, data);
    }
    return new IngestWriter(ref, dir, target, release, hash, size);
  }

  get dataPath(): string {
    return join(this.dir, 'data');
  }

  /** Bytes written so far (including those of an earlier, interrupted attempt). */
  offset(): number {
    return this.size;
  }

  /** Digest of the bytes written so far. */
  digest(): string {
    return 'sha256:' + this.hash.copy().digest('hex');
  }

  private stream(): WriteStream {
    if (this.done) throw new BerthError({ kind: 'internal', op: `ingest ${this.ref}`, message: `ingest ${this.ref}: already committed or closed` });
    if (!this.out) {
      this.out = createWriteStream(this.dataPath, { flags: 'a', mode: 0o644 });
      this.out.on('error', () => {}); // reported through write()/close()
    }
    return this.out;
  }

  /** Append a chunk; resolves when the file accepted it (backpressure). */
  async write(chunk: Buffer): Promise<void> {
    const out = this.stream();
    this.hash.update(chunk);
    this.size += chunk.length;
    await new Promise<void>((resolve, reject) => {
      const ok = out.write(chunk, (err) => (err ? reject(wrapError(err, `ingest ${this.ref}: write`, this.dataPath)) : ok ? resolve() : undefined));
      if (!ok) out.once('drain', resolve);
    });
  }

  /**
   * A Writable that appends to this ingest (for stream.pipeline). Does not commit on finish.
   * A failed write (a full disk) is reported once, when the stream ends: the producer is not torn
   * down in the middle of its work (a tar-stream pack destroyed mid-entry emits an 'error' on the
   * entry stream that its writer may not listen to, and the process dies); the bytes that follow
   * are dropped.
   */
  writable(): Writable {
    let failed: Error | undefined;
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (failed) return cb();
        this.write(chunk).then(() => cb(), (err: Error) => { failed = err; cb(); });
      },
      final: (cb) => cb(failed),
    });
  }

  /** Start over from zero bytes (e.g. when a server ignores a Range request). */
  async reset(): Promise<void> {
    await this.closeStream();
    await fsp.rm(this.dataPath, { force: true });
    this.hash = createHash('sha256');
    this.size = 0;
  }

  private async closeStream(): Promise<void> {
    const out = this.out;
    this.out = undefined;
    if (!out) return;
    await new Promise<void>((resolve, reject) => {
      out.end((err?: Error | null) => (err ? reject(wrapError(err, `ingest ${this.ref}: close`, this.dataPath)) : resolve()));
    });
  }

  /**
   * Verify and publish the blob. On a size or digest mismatch nothing is stored, the partial data
   * is discarded, and the error says which digest and size were actually received.
   */
  async commit(expectedDigest?: string, expectedSize?: number): Promise<BlobInfo> {
    const op = `commit ${this.ref}`;
    try {
      await this.closeStream();
      if (expectedDigest !== undefined) digestHex(expectedDigest, op);
      const digest = this.digest();
      const size = this.size;
      if (expectedSize !== undefined && expectedSize >= 0 && size !== expectedSize) {
        await this.discard();
        throw invalid(op, `${op}: size mismatch: expected ${expectedSize} bytes of ${expectedDigest ?? 'content'}, got ${size} bytes (${digest})`);
      }
      if (expectedDigest !== undefined && digest !== expectedDigest) {
        await this.discard();
        throw invalid(op, `${op}: digest mismatch: expected ${expectedDigest}, got ${digest}`);
      }
      const fh = await fsp.open(this.dataPath, 'r+').catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await fsp.writeFile(this.dataPath, ''); // an empty blob that was never written to
        return fsp.open(this.dataPath, 'r+');
      });
      try {
        await fh.sync();
        await fh.chmod(0o444);
      } finally {
        await fh.close();
      }
      const dest = this.target.blobPath(digest);
      await fsp.mkdir(join(dest, '..'), { recursive: true });
      await fsp.rename(this.dataPath, dest); // replaces an identical blob committed concurrently
      await syncDir(join(dest, '..'));
      await this.finish();
      return { digest, size };
    } catch (err) {
      await this.finish();
      throw wrapError(err, op, this.dataPath);
    }
  }

  /** Stop writing but keep the partial data, so a later ingest of the same ref can resume. */
  async close(): Promise<void> {
    if (this.done) return;
    try {
      await this.closeStream();
    } finally {
      this.done = true;
      await this.release();
    }
  }

  /** Stop writing and delete the partial data. */
  async abort(): Promise<void> {
    if (this.done) return;
    await this.closeStream().catch(() => {});
    await this.discard();
    await this.finish();
  }

  private async discard(): Promise<void> {
    await fsp.rm(this.dataPath, { force: true });
  }

  private async finish(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.closeStream().catch(() => {});
    await fsp.rm(this.dir, { recursive: true, force: true }).catch(() => {});
    await this.release(); // the lock lives beside the directory, so it is released last
  }
}
