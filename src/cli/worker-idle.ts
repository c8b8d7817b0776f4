/**
 * A warm process (berth worker, berth serve) gives memory back once a burst of work is over: a
 * full garbage collection (V8 then returns its empty pages and shrinks the young generation) and
 * malloc_trim (glibc keeps freed memory of SQLite, libuv and V8's off-heap buffers otherwise),
 * then drops its mappings of the node binary's clean pages (sys/pages.ts: ~40 MiB of code and
 * symbol tables the start-up touched, left in the page cache and refaulted on use).
 * Checked every few seconds, never while busy, once per burst: an idle process does nothing.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { realpathSync } from 'node:fs';
import { dropCleanFilePages, libcLibrary } from '../sys/index.js';

let gc: (() => void) | undefined;
let trim: ((pad: number) => number) | undefined;

/** Collect garbage and trim malloc's heap now (best effort). */
export function settleMemory(): void {
  try {
    if (!gc) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    }
    gc();
  } catch { /* no gc: V8 collects by itself */ }
  try {
    trim ??= libcLibrary().func('int malloc_trim(size_t pad)') as (pad: number) => number;
    trim(0);
  } catch { /* not glibc */ }
  try {
    dropCleanFilePages(realpathSync(process.execPath));
  } catch { /* no such path: keep the pages */ }
}

/**
 * Every `everyMs`: when the process worked since it last settled and this interval was quiet
 * (< 20 ms of CPU), settle. Returns the stop function; the timer never keeps the process up.
 */
export function settleWhenIdle(everyMs = 5000): () => void {
  let mark = process.cpuUsage();
  let worked = true; // its start-up
  const timer = setInterval(() => {
    const d = process.cpuUsage(mark);
    mark = process.cpuUsage();
    if (d.user + d.system > 20_000) { worked = true; return; }
    if (!worked) return;
    worked = false;
    settleMemory();
    mark = process.cpuUsage();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
