/**
 * Blob download: GET with redirects, resumed with Range requests after an interruption (or from
 * the bytes an earlier, killed pull left in the ingest), retried with backoff. Never more bytes
 * than the descriptor's size are accepted; the digest is verified by the sink's commit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../../lib/index.js';
import type { Descriptor } from '../manifest.js';
import { repoScope } from './auth.js';
import type { EndpointState, RegistryClient } from './client.js';
import { drain, isTransient, networkError } from './http.js';

/** Where downloaded bytes go: typically an IngestWriter (possibly teed into an unpacker). */
export interface BlobSink {
  offset(): number;
  write(chunk: Buffer): Promise<void>;
}

export interface FetchBlobOptions {
  /** called with the total bytes received so far (including resumed ones) */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
  /** called before each retry, with the error and the offset we resume from */
  onRetry?: (err: unknown, offset: number, attempt: number) => void;
}

function parseContentRangeStart(v: string | undefined): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(v ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Download `desc` from `repo` into `sink`, starting at `sink.offset()`. */
export async function fetchBlob(client: RegistryClient, repo: string, desc: Descriptor, sink: BlobSink, opts: FetchBlobOptions = {}): Promise<void> {
  const op = `pull ${client.domain}/${repo}: blob ${desc.digest}`;
  await client.onEndpoints('pull', (st) => fetchFrom(client, st, repo, desc, sink, opts, op));
}

async function fetchFrom(client: RegistryClient, st: EndpointState, repo: string, desc: Descriptor, sink: BlobSink, opts: FetchBlobOptions, op: string): Promise<void> {
  let failures = 0;
  for (;;) {
    const start = sink.offset();
    if (start > desc.size) throw new BerthError({ kind: 'invalid', op, message: `${op}: received ${start} bytes, more than the expected ${desc.size}` });
    if (start === desc.size && desc.size > 0) return;
    let progressed = false;
    try {
      const headers: Record<string, string> = {};
      if (start > 0) headers.Range = `bytes=${start}-`;
      const res = await client.request(st, { method: 'GET', path: `${repo}/blobs/${desc.digest}`, scopes: [repoScope(repo, ['pull'])], headers }, op);
      let skip = 0;
      if (res.status === 206) {
        const s = parseContentRangeStart(res.headers['content-range'] as string | undefined);
        if (s !== start) {
          drain(res);
          throw new BerthError({ kind: 'remote', op, message: `${op}: asked for bytes from ${start}, the registry sent a range starting at ${s ?? '?'}` });
        }
      } else if (res.status === 200) {
        skip = start; // the server ignored Range: drop what we already have
      } else if (res.status === 416 && start > 0) {
        drain(res);
        throw new BerthError({ kind: 'invalid', op, message: `${op}: the registry refused to resume at byte ${start} (HTTP 416); the blob is shorter than expected` });
      } else {
        await client.fail(res, op, `blob ${desc.digest}`);
      }
      const cl = Number(res.headers['content-length']);
      if (res.status === 200 && Number.isFinite(cl) && res.headers['content-length'] !== undefined && cl !== desc.size) {
        drain(res);
        throw new BerthError({ kind: 'invalid', op, message: `${op}: size mismatch: the registry announces ${cl} bytes, the manifest says ${desc.size}` });
      }
      try {
        for await (const c of res.body) {
          if (opts.signal?.aborted) {
            res.body.destroy();
            throw opts.signal.reason ?? new Error('aborted');
          }
          let chunk = c as Buffer;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (!chunk.length) continue;
          }
          if (sink.offset() + chunk.length > desc.size) {
            res.body.destroy();
            throw new BerthError({ kind: 'invalid', op, message: `${op}: the registry sent more than the expected ${desc.size} bytes` });
          }
          await sink.write(chunk);
          progressed = true;
          opts.onProgress?.(sink.offset());
        }
      } catch (err) {
        if (err instanceof BerthError) throw err;
        throw networkError(op, 'GET', res.url, err);
      }
      if (sink.offset() === desc.size) return;
      throw new BerthError({ kind: 'remote', op, code: 'ECONNRESET', message: `${op}: connection closed after ${sink.offset()} of ${desc.size} bytes` });
    } catch (err) {
      if (progressed) failures = 0;
      const transient = isTransient(err) || (err instanceof BerthError && err.kind === 'remote' && /closed after|premature|aborted/i.test(err.message));
      if (!transient || opts.signal?.aborted || failures >= client.retries) throw err;
      failures++;
      opts.onRetry?.(err, sink.offset(), failures);
      await sleep(Math.min(client.retryDelayMs * 2 ** (failures - 1), 10_000));
    }
  }
}
