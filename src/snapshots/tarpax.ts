/**
 * tar-stream decodes PAX records as UTF-8 strings, which corrupts binary xattr values such as
 * `security.capability`. We hook the extractor instance's `_decodeLongHeader` (works the same
 * when tar-stream is bundled): after tar-stream has parsed a PAX header as usual, the raw bytes
 * of its records are attached to the pax object under RAW_PAX, which becomes `header.pax`.
 */

export const RAW_PAX = Symbol.for('berth.rawPax');

export type RawPax = Map<string, Buffer>;

/** Parse PAX records ("<len> <key>=<value>\n") keeping values as bytes. */
export function decodeRawPax(buf: Buffer): RawPax {
  const out: RawPax = new Map();
  let off = 0;
  while (off < buf.length) {
    let sp = off;
    while (sp < buf.length && buf[sp] !== 0x20) sp++;
    const len = parseInt(buf.toString('latin1', off, sp), 10);
    if (!len || off + len > buf.length) break;
    const rec = buf.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) break;
    out.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

interface ExtractInternals {
  _decodeLongHeader?: (buf: Buffer) => unknown;
  _header?: { type?: string } | null;
  _pax?: Record<symbol, unknown> | null;
}

/** Make every header.pax of this extractor carry the raw records (global ones merged). */
export function hookRawPax(extract: object): void {
  const ex = extract as ExtractInternals;
  const orig = ex._decodeLongHeader;
  if (typeof orig !== 'function') throw new Error('tar-stream: Extract#_decodeLongHeader not found (unsupported version)');
  let global: RawPax | undefined;
  ex._decodeLongHeader = function (this: ExtractInternals, buf: Buffer) {
    const r = orig.call(this, buf);
    const type = this._header?.type;
    if (type === 'pax-global-header') global = decodeRawPax(buf);
    else if (type === 'pax-header' && this._pax) this._pax[RAW_PAX] = new Map([...(global ?? []), ...decodeRawPax(buf)]);
    return r;
  };
}

/** The raw PAX records of an entry header (empty when it had none). */
export function rawPax(header: { pax?: unknown }): RawPax {
  const pax = header.pax as Record<symbol, RawPax> | null | undefined;
  return pax?.[RAW_PAX] ?? new Map();
}
