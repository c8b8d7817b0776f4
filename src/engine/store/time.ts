/** Time stamps: nanoseconds since the epoch as bigint, text as fixed-width RFC 3339 (sorts as text). */

let last = 0n;

/** Wall-clock nanoseconds, strictly increasing within this process. */
export function nowNs(): bigint {
  const ms = BigInt(Date.now()) * 1_000_000n;
  const sub = process.hrtime.bigint() % 1_000_000n;
  let t = ms + sub;
  if (t <= last) t = last + 1n;
  last = t;
  return t;
}

/** `2024-05-01T12:34:56.123456789Z` (always nine fraction digits). */
export function formatNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(ms).toISOString().slice(0, 19) + '.' + frac + 'Z';
}

export function nowText(): string {
  return formatNs(nowNs());
}

/** Parse RFC 3339 (any fraction length, Z or offset) to nanoseconds; undefined if not a time. */
export function parseTimeNs(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(m[1] + m[3]);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
