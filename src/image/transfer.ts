/**
 * Downloading blobs into the content store while others read them as they arrive: a
 * BlobDownload writes to an ingest (resumable) and commits after verification; `follow()` gives
 * a stream of its bytes that ends only once the blob is verified and committed, and fails if the
 * download fails — so an unpacker fed by it never commits a layer whose digest lied.
 */
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../lib/index.js';
import type { ContentStore } from '../content/index.js';
import type { Descriptor } from './manifest.js';
import { fetchBlob, type RegistryClient } from './registry/index.js';

/** A counting semaphore bounding concurrent work. */
export class Limiter {
  private active = 0;
  private queue: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

export type DownloadStatus = 'Waiting' | 'Downloading' | 'Retrying' | 'Verifying Checksum' | 'Download complete' | 'Already exists';

export interface DownloadEvents {
  status?: (s: DownloadStatus, detail?: string) => void;
  progress?: (bytes: number, total: number) => void;
}

export class BlobDownload {
  readonly desc: Descriptor;
  private readonly content: ContentStore;
  private written = 0;
  private dataPath: string | undefined;
  private done = false;
  private error: unknown;
  private waiters: (() => void)[] = [];
  /** settles when the blob is committed (or the download failed) */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private rejectFinished!: (err: unknown) => void;

  constructor(desc: Descriptor, content: ContentStore) {
    this.desc = desc;
    this.content = content;
    this.finished = new Promise<void>((res, rej) => {
      this.resolveFinished = res;
      this.rejectFinished = rej;
    });
    this.finished.catch(() => {});
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  get isDone(): boolean {
    return this.done;
  }

  succeed(): void {
    this.done = true;
    this.resolveFinished();
    this.notify();
  }

  fail(err: unknown): void {
    if (this.done || this.error) return;
    this.error = err;
    this.rejectFinished(err);
    this.notify();
  }

  /** Download from `repo` unless the store already has the blob. */
  async run(client: RegistryClient, repo: string, ev: DownloadEvents, signal?: AbortSignal): Promise<void> {
    const { desc, content } = this;
    try {
      let waited = false;
      for (;;) {
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        if (await content.has(desc.digest)) {
          await content.dropFinishedIngest(`blob-${desc.digest.replace(':', '-')}`).catch(() => undefined);
          ev.status?.(waited ? 'Download complete' : 'Already exists');
          this.succeed();
          return;
        }
        let w;
        try {
          w = await content.ingest(`blob-${desc.digest.replace(':', '-')}`);
        } catch (err) {
          if (!(err instanceof BerthError && err.kind === 'conflict')) throw err;
          if (!waited) ev.status?.('Waiting', 'being downloaded by another pull');
          waited = true;
          await sleep(200);
          continue;
        }
        try {
          if (w.offset() > desc.size) await w.reset();
          this.dataPath = w.dataPath;
          this.written = w.offset();
          ev.status?.('Downloading');
          ev.progress?.(this.written, desc.size);
          await fetchBlob(client, repo, desc, {
            offset: () => w.offset(),
            write: async (chunk) => {
              await w.write(chunk);
              this.written = w.offset();
              this.notify();
            },
          }, {
            signal,
            onProgress: (n) => ev.progress?.(n, desc.size),
            onRetry: (_e, off, attempt) => ev.status?.('Retrying', `attempt ${attempt}, resuming at byte ${off}`),
          });
          ev.status?.('Verifying Checksum');
          await w.commit(desc.digest, desc.size);
        } catch (err) {
          // keeps the partial data for the next attempt (no-op after a failed commit), unless the
          // disk is full: then holding on to it would keep it full
          if (isDiskFull(err)) await w.abort().catch(() => {});
          else await w.close().catch(() => {});
          throw err;
        }
        ev.status?.('Download complete');
        this.succeed();
        return;
      }
    } catch (err) {
      this.fail(err);
      throw err;
    }
  }

  /**
   * The blob's bytes as they arrive. Ends after the blob was verified and committed; errors if
   * the download fails. `onRead` gets the bytes read so far.
   */
  follow(onRead?: (bytes: number) => void): Readable {
    const self = this;
    async function* gen(): AsyncGenerator<Buffer> {
      let fh: FileHandle | undefined;
      let pos = 0;
      const buf = () => Buffer.allocUnsafe(1 << 20);
      try {
        for (;;) {
          if (self.error) throw self.error;
          if (self.done) {
            fh ??= await fsp.open(self.content.path(self.desc.digest), 'r');
            const f = fh;
            for (;;) {
              const b = buf();
              const { bytesRead } = await f.read(b, 0, b.length, pos);
              if (!bytesRead) return;
              pos += bytesRead;
              onRead?.(pos);
              yield b.subarray(0, bytesRead);
            }
          }
          if (pos < self.written && self.dataPath) {
            if (!fh) {
              try {
                fh = await fsp.open(self.dataPath, 'r');
              } catch (err) {
                if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
                await sleep(5); // just committed or restarted: look again
                continue;
              }
            }
            // a buffer of what is there (often a network chunk's worth), not 1 MiB each time: the
            // chunks live on in the unpacker, and 1 MiB ones would make a GB of garbage per pull
            const b = Buffer.allocUnsafe(Math.min(1 << 20, self.written - pos));
            const { bytesRead } = await fh!.read(b, 0, b.length, pos);
            if (bytesRead) {
              pos += bytesRead;
              onRead?.(pos);
              yield b.subarray(0, bytesRead);
              continue;
            }
          }
          await self.wait();
        }
      } finally {
        await fh?.close();
      }
    }
    return Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 20 });
  }
}

/** ENOSPC or EDQUOT, wherever in a wrapped error it sits. */
export function isDiskFull(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
  }
  return false;
}
