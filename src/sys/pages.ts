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

/** One mapping of a process, from its smaps: bounds, permissions, file ('' for anonymous), KiB. */
export interface Mapping { lo: bigint; hi: bigint; perms: string; path: string; rss: number; anon: number }

/** The mappings an smaps text lists (`/proc/PID/smaps`; this process's by default). */
export function smapsMappings(smaps = readFileSync('/proc/self/smaps', 'utf8')): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of smaps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      // (anon -1 until smaps says: a mapping whose private pages are not known is not clean)
      out.push(cur = { lo: BigInt(`0x${m[1]}`), hi: BigInt(`0x${m[2]}`), perms: m[3]!, path: m[4]!, rss: 0, anon: -1 });
      continue;
    }
    const f = cur && /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (f) cur![f[1] === 'Rss' ? 'rss' : 'anon'] = Number(f[2]);
  }
  return out;
}

/** The clean read-only private mappings of `file` with pages resident (none copied-on-write). */
export function cleanFileMappings(file: string, smaps?: string): Mapping[] {
  return smapsMappings(smaps).filter((m) => m.path === file && m.perms[1] !== 'w' && m.perms[3] === 'p' && m.anon === 0 && m.rss > 0);
}

/**
 * Drop this process's page-table entries for the clean pages of `file` (the node binary:
 * process.execPath). Returns the resident KiB dropped; 0 when nothing could be (best effort).
 */
export function dropCleanFilePages(file: string): number {
  let dropped = 0;
  try {
    madvise ??= libcLibrary().func('int madvise(uintptr_t addr, size_t len, int advice)') as unknown as Madvise;
    for (const m of cleanFileMappings(file)) {
      if (madvise(m.lo, m.hi - m.lo, MADV_DONTNEED) === 0) dropped += m.rss;
    }
  } catch { /* no smaps or no madvise: keep the pages */ }
  return dropped;
}
