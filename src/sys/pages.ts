/**
 * A long-lived Node process (the warm worker, `berth serve`) holds, mapped, every page of the node
 * binary its start-up and its first requests touched: about 40 MiB of code, read-only data and
 * symbol tables, most of which an idle process never runs again. They are clean pages of the page
 * cache; dropping our page-table entries for them (MADV_DONTNEED on a private file mapping with no
 * private copy) leaves them in the cache for every other node process and refaults them, at a
 * minor fault each, when they are used again — what reclaim would do, done when the process knows
 * it is idle. The helper's monitor does the same for its own binary (trim_text).
 *
 * Only a mapping that is not writable and holds no anonymous (copied-on-write) page is dropped: a
 * relocated read-only one (RELRO, the GOT) has private pages that MADV_DONTNEED would reset.
 */
import { readFileSync } from 'node:fs';
import { libcLibrary } from './fsops.js';

const MADV_DONTNEED = 4;
type Madvise = (addr: bigint, len: bigint, advice: number) => number;
let madvise: Madvise | undefined;

/** The clean read-only mappings of `file` in this process: [start, end, resident KiB]. */
export function cleanFileMappings(file: string, smaps = readFileSync('/proc/self/smaps', 'utf8')): Array<[bigint, bigint, number]> {
  const out: Array<[bigint, bigint, number]> = [];
  let cur: { lo: bigint; hi: bigint; ok: boolean; rss: number; anon: number } | undefined;
  const flush = () => {
    if (cur?.ok && cur.anon === 0 && cur.rss > 0) out.push([cur.lo, cur.hi, cur.rss]);
  };
  for (const line of smaps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      flush();
      cur = { lo: BigInt(`0x${m[1]}`), hi: BigInt(`0x${m[2]}`), ok: m[4] === file && m[3]![1] !== 'w' && m[3]![3] === 'p', rss: 0, anon: -1 };
      continue;
    }
    if (!cur?.ok) continue;
    const f = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (f?.[1] === 'Rss') cur.rss = Number(f[2]);
    else if (f) cur.anon = Number(f[2]);
  }
  flush();
  return out;
}

/**
 * Drop this process's page-table entries for the clean pages of `file` (the node binary:
 * process.execPath). Returns the resident KiB dropped; 0 when nothing could be (best effort).
 */
export function dropCleanFilePages(file: string): number {
  let dropped = 0;
  try {
    madvise ??= libcLibrary().func('int madvise(uintptr_t addr, size_t len, int advice)') as unknown as Madvise;
    for (const [lo, hi, kib] of cleanFileMappings(file)) {
      if (madvise(lo, hi - lo, MADV_DONTNEED) === 0) dropped += kib;
    }
  } catch { /* no smaps or no madvise: keep the pages */ }
  return dropped;
}
