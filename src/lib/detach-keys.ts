/**
 * Docker's detach keys: the key sequence that, typed on an attached terminal, leaves the container
 * running and ends the attach (default ctrl-p,ctrl-q). Scanned on the client (the CLI) and on the
 * server (the Engine API: `detachKeys` of attach, `DetachKeys` of exec), with a tty only.
 */
import { BerthError } from './errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Docker's detach key syntax: `ctrl-<a-z@[\\]^_>` or a single character, comma separated. */
export function parseDetachKeys(spec: string): Buffer {
  const bad = () => new BerthError({ kind: 'usage', op: 'detach keys', message: `Invalid detach keys (${spec}) provided` });
  const out: number[] = [];
  for (const k of spec.split(',')) {
    const key = k.trim();
    if (key.length === 1) { out.push(key.charCodeAt(0)); continue; }
    const m = /^ctrl-(.)$/i.exec(key);
    if (!m) throw bad();
    const c = m[1]!.toLowerCase();
    if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else if (c === '@') out.push(0);
    else if ('[\\]^_'.includes(c)) out.push(c.charCodeAt(0) - 64);
    else throw bad();
  }
  return Buffer.from(out);
}

/**
 * Finds the detach keys in a stream of input chunks (a sequence may span chunks): `feed` returns
 * the bytes to pass on (a held partial match is given back when the sequence breaks) and whether
 * the sequence was completed (what follows it in the chunk is dropped, as Docker's).
 */
export class DetachScanner {
  private matched = 0;
  constructor(private readonly keys: Buffer) {}

  feed(d: Buffer): { pass: Buffer; detached: boolean } {
    const keys = this.keys;
    if (!keys.length) return { pass: d, detached: false };
    const pass: number[] = [];
    for (const b of d) {
      if (b === keys[this.matched]) {
        if (++this.matched === keys.length) return { pass: Buffer.from(pass), detached: true };
        continue;
      }
      if (this.matched) { pass.push(...keys.subarray(0, this.matched)); this.matched = 0; }
      if (b === keys[0]) { this.matched = 1; if (keys.length === 1) return { pass: Buffer.from(pass), detached: true }; continue; }
      pass.push(b);
    }
    return { pass: Buffer.from(pass), detached: false };
  }
}
