/**
 * A content-addressed blob store rooted at a directory:
 *   <root>/blobs/sha256/<hex>   committed, verified, read-only blobs
 *   <root>/ingest/<ref>/data    blobs being written (resumable), locked by <root>/ingest/<ref>.lock
 * A blob appears under blobs/ only by an atomic rename after its size and digest were verified.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import { BerthError, invalid, notFound, readdirOrEmpty, wrapError } from '../lib/index.js';
import { lockFile, lockOwnerAlive, lockOwnerPid, pidAlive } from './atomic.js';
import { digestHex, sha256 } from './digest.js';
import { IngestWriter, type BlobInfo } from './ingest.js';

export interface IngestStatus {
  ref: string;
  offset: number;
  updatedAt: Date;
  /** pid of the process writing it, when one is */
  activePid?: number;
}

const REF_RE = /^[A-Za-z0-9][A-Za-z0-9_:@+=-]*(\.[A-Za-z0-9_:@+=-]+)*$/;

/** Refs of ingests a later writer resumes (pull's downloads); the others are private to their writer. */
export const RESUMABLE_PREFIX = 'blob-';
/** How long an abandoned resumable ingest is kept for a retry (a prune removes it at once). */
const RESUMABLE_KEEP_MS = 24 * 3600_000;

/** The directory name of an ingest ref (refs that are not plain names are hashed). */
function ingestName(ref: string): string {
  return REF_RE.test(ref) && ref.length <= 200 && !ref.includes('.lock') ? ref : 'ref-' + createHash('sha256').update(ref).digest('hex');
}

export class ContentStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  private get blobDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }

  private get ingestRoot(): string {
    return join(this.root, 'ingest');
  }

  /** Path where the blob with this digest lives (whether it exists or not). */
  path(digest: string): string {
    return join(this.blobDir, digestHex(digest, 'content'));
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await fsp.stat(this.path(digest))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw wrapError(err, 'content stat', digest);
    }
  }

  async info(digest: string): Promise<BlobInfo> {
    try {
      const st = await fsp.stat(this.path(digest));
      return { digest, size: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('content', `content ${digest}: not found`, this.path(digest));
      throw wrapError(err, 'content stat', this.path(digest));
    }
  }

  /** A read stream of the blob; a missing blob is reported as a notfound BerthError on the stream. */
  createReadStream(digest: string, opts: { start?: number; end?: number } = {}): ReadStream {
    const p = this.path(digest);
    const rs = createReadStream(p, opts);
    const emit = rs.emit.bind(rs);
    rs.emit = ((event: string, ...args: unknown[]) => {
      if (event === 'error') {
        const e = args[0] as NodeJS.ErrnoException;
        return emit('error', e?.code === 'ENOENT' ? notFound('content', `content ${digest}: not found`, p) : wrapError(e, 'content read', p));
      }
      return emit(event, ...args);
    }) as typeof rs.emit;
    return rs;
  }

  async readBytes(digest: string, verify = false): Promise<Buffer> {
    let buf: Buffer;
    try {
      buf = await fsp.readFile(this.path(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('content', `content ${digest}: not found`, this.path(digest));
      throw wrapError(err, 'content read', this.path(digest));
    }
    if (verify && sha256(buf) !== digest) throw invalid('content', `content ${digest}: stored blob is corrupt (its digest is ${sha256(buf)})`, this.path(digest));
    return buf;
  }

  async readJSON<T = unknown>(digest: string): Promise<T> {
    const buf = await this.readBytes(digest);
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch (err) {
      throw invalid('content', `content ${digest}: not valid JSON: ${(err as Error).message}`, this.path(digest));
    }
  }

  /** Store a small blob held in memory; verifies it against `expected` when given. */
  async writeBlob(data: Buffer | string, expected?: { digest?: string; size?: number }, ref?: string): Promise<BlobInfo> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256(buf);
    if (expected?.digest === digest && await this.has(digest)) return { digest, size: buf.length };
    // a private ref: concurrent writers of the same small blob never wait for each other
    const w = await this.ingest(ref ?? `write-${digest.slice(7, 23)}-${process.pid}-${randomBytes(4).toString('hex')}`, { restart: true });
    try {
      await w.write(buf);
    } catch (err) {
      await w.abort();
      throw err;
    }
    return w.commit(expected?.digest ?? digest, expected?.size ?? buf.length);
  }

  /**
   * Open an ingest for `ref` (a short name such as `layer-sha256:<hex>`), resuming the bytes of an
   * earlier interrupted ingest of the same ref unless `restart`. Refused (conflict) while another
   * writer holds the ref. Ingests whose writers died are swept first (see sweepIngests).
   */
  async ingest(ref: string, opts: { restart?: boolean } = {}): Promise<IngestWriter> {
    const name = ingestName(ref);
    const dir = join(this.ingestRoot, name);
    try {
      await fsp.mkdir(this.ingestRoot, { recursive: true });
    } catch (err) {
      throw wrapError(err, `ingest ${ref}`, this.ingestRoot);
    }
    await this.sweepIngests();
    const release = await lockFile(`${dir}.lock`, `ingest ${ref}`);
    try {
      if (opts.restart) await fsp.rm(dir, { recursive: true, force: true });
      await fsp.mkdir(dir, { recursive: true });
      await fsp.writeFile(join(dir, 'ref'), ref);
    } catch (err) {
      await release();
      throw wrapError(err, `ingest ${ref}`, dir);
    }
    return IngestWriter.open(ref, dir, { blobPath: (d) => this.path(d) }, release);
  }

  /**
   * A download whose blob is in the store already, left by a writer killed between its commit and
   * its clean-up: removed, unless someone writes it now.
   */
  async dropFinishedIngest(ref: string): Promise<void> {
    const dir = join(this.ingestRoot, ingestName(ref));
    if (!(await fsp.stat(dir).catch(() => undefined))) return;
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lockFile(`${dir}.lock`, `ingest ${ref}`);
    } catch (err) {
      if (err instanceof BerthError && err.kind === 'conflict') return; // a live writer has it
      throw err;
    }
    try {
      await fsp.rm(dir, { recursive: true, force: true });
    } finally {
      await release();
    }
  }

  private lastSweep = 0;

  /**
   * What a killed writer left (at most once a minute per store object, before a new ingest):
   * ingests of private refs (`commit-…`, `load-…`, `import-…`, `write-…`) whose writer is gone, and
   * resumable pull downloads (`blob-…`) left untouched for a day; a retried pull resumes younger ones.
   */
  private async sweepIngests(): Promise<void> {
    if (Date.now() - this.lastSweep < 60_000) return;
    this.lastSweep = Date.now();
    await this.pruneIngests({ keepResumableMs: RESUMABLE_KEEP_MS }).catch(() => undefined);
  }

  /** Interrupted or running ingests. */
  async ingests(): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const name of await readdirOrEmpty(this.ingestRoot)) {
      if (name.includes('.lock')) continue;
      const dir = join(this.ingestRoot, name);
      const ref = await fsp.readFile(join(dir, 'ref'), 'utf8').catch(() => name);
      const st = await fsp.stat(join(dir, 'data')).catch(() => undefined);
      const dst = st ? undefined : await fsp.stat(dir).catch(() => undefined);
      const lock = await fsp.readFile(`${dir}.lock`, 'utf8').catch(() => '');
      const s: IngestStatus = { ref, offset: st?.size ?? 0, updatedAt: st?.mtime ?? dst?.mtime ?? new Date(0) };
      if (lock && lockOwnerAlive(lock)) s.activePid = lockOwnerPid(lock);
      out.push(s);
    }
    return out;
  }

  /**
   * Remove ingests nobody is writing (no lock, or its owner is dead): all of them, or with
   * `olderThan` those last touched before it, or with `keepResumableMs` every private one and the
   * resumable (`blob-…`) ones idle for longer than that. Each is removed under its lock, so a
   * writer taking it at the same time either gets it first (and it stays) or starts afresh.
   * Also removes the temp files of lock takeovers that dead processes left.
   */
  async pruneIngests(opts: Date | { olderThan?: Date; keepResumableMs?: number } = {}): Promise<number> {
    return (await this.pruneIngestsReport(opts)).removed;
  }

  async pruneIngestsReport(opts: Date | { olderThan?: Date; keepResumableMs?: number } = {}): Promise<{ removed: number; bytes: number }> {
    const o = opts instanceof Date ? { olderThan: opts } : opts;
    const report = { removed: 0, bytes: 0 };
    for (const s of await this.ingests()) {
      if (s.activePid !== undefined || (o.olderThan && s.updatedAt >= o.olderThan)) continue;
      if (o.keepResumableMs !== undefined && s.ref.startsWith(RESUMABLE_PREFIX) && Date.now() - s.updatedAt.getTime() < o.keepResumableMs &&
        !(await this.has(s.ref.slice(RESUMABLE_PREFIX.length).replace('-', ':')).catch(() => false))) continue; // (a finished one goes)
      const dir = join(this.ingestRoot, ingestName(s.ref));
      let release: (() => Promise<void>) | undefined;
      try {
        release = await lockFile(`${dir}.lock`, `ingest ${s.ref}`);
      } catch (err) {
        if (err instanceof BerthError && err.kind === 'conflict') continue; // a writer took it meanwhile
        throw err;
      }
      try {
        const size = (await fsp.stat(join(dir, 'data')).catch(() => undefined))?.size ?? 0;
        await fsp.rm(dir, { recursive: true, force: true });
        report.removed++;
        report.bytes += size;
      } finally {
        await release();
      }
    }
    // `<name>.lock.<pid>.<hex>` and `<name>.lock.takeover[.<pid>.<hex>]` of dead processes
    for (const name of await readdirOrEmpty(this.ingestRoot)) {
      const m = /\.lock(?:\.takeover)?\.(\d+)\.[0-9a-f]+$/.exec(name);
      const p = join(this.ingestRoot, name);
      if (m && !pidAlive(Number(m[1]))) await fsp.rm(p, { force: true }).catch(() => {});
      else if (name.endsWith('.lock') && !(await fsp.stat(p.slice(0, -'.lock'.length)).catch(() => undefined))) {
        // a lock without its ingest: its writer was killed between taking it and making the directory
        const text = await fsp.readFile(p, 'utf8').catch(() => undefined);
        if (text !== undefined && !lockOwnerAlive(text)) await fsp.rm(p, { force: true }).catch(() => {});
      } else if (name.endsWith('.lock.takeover')) {
        const text = await fsp.readFile(p, 'utf8').catch(() => undefined);
        if (text !== undefined && !lockOwnerAlive(text) && Date.now() - ((await fsp.stat(p).catch(() => undefined))?.mtimeMs ?? Date.now()) > 10_000) {
          await fsp.rm(p, { force: true }).catch(() => {});
        }
      }
    }
    return report;
  }

  /** Delete a blob; returns whether it existed. */
  async delete(digest: string): Promise<boolean> {
    const p = this.path(digest);
    try {
      await fsp.unlink(p);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw wrapError(err, 'content delete', p);
    }
  }

  /** Every committed blob. */
  async list(): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    await this.walk((b) => { out.push(b); });
    return out;
  }

  async walk(fn: (b: BlobInfo) => void | Promise<void>): Promise<void> {
    for (const hex of await readdirOrEmpty(this.blobDir)) {
      if (!/^[a-f0-9]{64}$/.test(hex)) continue;
      const st = await fsp.stat(join(this.blobDir, hex)).catch(() => undefined);
      if (st?.isFile()) await fn({ digest: 'sha256:' + hex, size: st.size });
    }
  }
}

