/**
 * Shared by the build tests: the layers of a `save` archive (docker-archive: manifest.json and
 * one tar per layer) as listings of path, type, mode, owner, size, content digest and link
 * target — what the issue compares between berth and the oracle (no mtimes).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export async function untar(buf: Buffer): Promise<Map<string, { header: tar.Header; data: Buffer }>> {
  const out = new Map<string, { header: tar.Header; data: Buffer }>();
  const ex = tar.extract();
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => { out.set(header.name, { header, data: Buffer.concat(parts) }); next(); });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    Readable.from([buf]).pipe(ex);
  });
  return out;
}

/** One line per entry: `path type mode uid:gid size digest -> link`. */
export async function listing(layer: Buffer): Promise<string[]> {
  const raw = layer[0] === 0x1f && layer[1] === 0x8b ? gunzipSync(layer) : layer;
  const entries = await untar(raw);
  const lines: string[] = [];
  for (const [name, { header: h, data }] of entries) {
    const digest = h.type === 'file' ? createHash('sha256').update(data).digest('hex').slice(0, 12) : '-';
    lines.push(`${name.replace(/\/$/, '')} ${h.type} ${((h.mode ?? 0) & 0o7777).toString(8)} ${h.uid}:${h.gid} ${h.type === 'file' ? h.size : 0} ${digest}${h.linkname ? ` -> ${h.linkname}` : ''}`);
  }
  return lines.sort();
}

/** The listings of every layer of the first image of a `save` archive. */
export async function savedLayers(archive: Buffer): Promise<string[][]> {
  const files = await untar(archive);
  const manifest = JSON.parse(files.get('manifest.json')!.data.toString()) as Array<{ Layers: string[] }>;
  const out: string[][] = [];
  for (const l of manifest[0]!.Layers) out.push(await listing(files.get(l)!.data));
  return out;
}

/** The config fields the issue compares. */
export function configView(cfg: Record<string, unknown>): Record<string, unknown> {
  const keys = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'Labels', 'OnBuild', 'Shell'];
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = cfg[k];
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length && k !== 'Cmd')) continue;
    out[k] = v;
  }
  return out;
}
