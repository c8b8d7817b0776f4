/** Does overlayfs work on this filesystem, for this process? Probed once per directory by mounting a tiny overlay. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mount, umount2, MNT_DETACH } from '../sys/index.js';
import { removeTree } from './fsutil.js';

export interface ProbeResult {
  ok: boolean;
  reason?: string;
}

const cache = new Map<string, ProbeResult>();

/** Mount lower1:lower2 + upper + work in a temp dir under `dir` and read a lower file through it. */
export function probeOverlay(dir: string, prefix = 'overlay-probe-'): ProbeResult {
  const hit = cache.get(dir);
  if (hit) return hit;
  let result: ProbeResult;
  const base = mkdtempSync(join(dir, prefix));
  try {
    for (const d of ['l1', 'l2', 'upper', 'work', 'merged']) mkdirSync(join(base, d));
    writeFileSync(join(base, 'l2', 'probe'), 'ok');
    mount('overlay', join(base, 'merged'), 'overlay', 0,
      `lowerdir=${join(base, 'l1')}:${join(base, 'l2')},upperdir=${join(base, 'upper')},workdir=${join(base, 'work')}`);
    try {
      const text = readFileSync(join(base, 'merged', 'probe'), 'utf8');
      writeFileSync(join(base, 'merged', 'written'), 'ok');
      result = text === 'ok' ? { ok: true } : { ok: false, reason: 'overlay mount shows wrong contents' };
    } finally {
      umount2(join(base, 'merged'), MNT_DETACH, true);
    }
  } catch (err) {
    result = { ok: false, reason: (err as Error).message };
  } finally {
    removeTree(base);
  }
  cache.set(dir, result);
  return result;
}
