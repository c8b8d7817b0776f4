/**
 * gzip streams with node:zlib loaded on first use: a process that never writes or reads a
 * compressed layer (most commands, an idle `berth serve`) keeps it out of its memory.
 */
import { createRequire } from 'node:module';
import type { Gunzip, Gzip, ZlibOptions } from 'node:zlib';

let zlib: typeof import('node:zlib') | undefined;
const load = () => (zlib ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib'));

export const gzipStream = (o?: ZlibOptions): Gzip => load().createGzip(o);
export const gunzipStream = (o?: ZlibOptions): Gunzip => load().createGunzip(o);
