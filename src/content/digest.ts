/** Content digests: `sha256:<64 hex>` (the only algorithm the store keeps). */
import { createHash } from 'node:crypto';
import { invalid } from '../lib/index.js';

const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export function isDigest(s: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(s);
}

/** Validate a digest string and return its hex part; `op` names the operation for the error. */
export function digestHex(digest: string, op = 'digest'): string {
  if (isDigest(digest)) return digest.slice(7);
  const m = DIGEST_RE.exec(digest);
  if (m && m[1] !== 'sha256') throw invalid(op, `${op}: unsupported digest algorithm ${JSON.stringify(m[1])} in ${digest} (only sha256 is supported)`);
  throw invalid(op, `${op}: invalid digest ${JSON.stringify(digest)} (want sha256:<64 lowercase hex digits>)`);
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** First 12 hex digits of a digest (Docker's short id). */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return digest.slice(i + 1, i + 13);
}
