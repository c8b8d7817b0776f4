/**
 * `import`: a root filesystem tar (plain, gzip or zstd) becomes a one-layer image, with config
 * changes in Dockerfile syntax (`CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`, `LABEL`, `USER`, `WORKDIR`,
 * `VOLUME`, `STOPSIGNAL`, `ONBUILD`) like `docker import --change`.
 */
import type { Readable } from 'node:stream';
import { usage } from '../lib/index.js';
import { contentStore, imageStore, snapshotter, type ImageContext } from './context.js';
import { MT, sniffCompression, type ImageConfig, type Platform } from './manifest.js';
import { hostPlatform, normalizePlatform } from './platform.js';
import { formatReference, parseReference } from './reference.js';
import type { ImageRecord } from './store.js';

export interface ImportOptions {
  /** name to tag the image with */
  reference?: string;
  /** history comment (`-m`) */
  message?: string;
  /** Dockerfile instructions applied to the config (`-c`) */
  changes?: string[];
  platform?: Platform;
  /** what was imported, for the history ("-" for stdin, a file name) */
  source?: string;
}

function parseArgs(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch { /* shell form */ }
  }
  return ['/bin/sh', '-c', t];
}

/** key=value pairs, or the legacy `KEY value` form for a single pair. */
function parsePairs(rest: string, instr: string): [string, string][] {
  const t = rest.trim();
  const words = t.match(/(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g) ?? [];
  if (!words[0]?.includes('=')) {
    const sp = t.search(/\s/);
    if (sp < 0) throw usage('import', `${instr} ${t}: needs a value`);
    return [[t.slice(0, sp), t.slice(sp + 1).trim()]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw usage('import', `${instr}: ${JSON.stringify(w)} is not key=value`);
    return [w.slice(0, i), w.slice(i + 1).replace(/^"(.*)"$/s, '$1').replace(/^'(.*)'$/s, '$1').replace(/\\(.)/g, '$1')];
  });
}

/** Apply `docker import --change` instructions to a container config. */
export function applyChanges(config: Record<string, unknown>, changes: string[]): Record<string, unknown> {
  const c = { ...config };
  for (const line of changes) {
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw usage('import', `invalid change ${JSON.stringify(line)}`);
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!;
    switch (instr) {
      case 'CMD': c.Cmd = parseArgs(rest); break;
      case 'ENTRYPOINT': c.Entrypoint = parseArgs(rest); break;
      case 'WORKDIR': c.WorkingDir = rest.trim(); break;
      case 'USER': c.User = rest.trim(); break;
      case 'STOPSIGNAL': c.StopSignal = rest.trim(); break;
      case 'ONBUILD': c.OnBuild = [...((c.OnBuild as string[]) ?? []), rest.trim()]; break;
      case 'ENV': {
        const env = [...((c.Env as string[]) ?? [])];
        for (const [k, v] of parsePairs(rest, instr)) {
          const i = env.findIndex((e) => e.startsWith(k + '='));
          if (i >= 0) env[i] = `${k}=${v}`; else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL': c.Labels = { ...((c.Labels as Record<string, string>) ?? {}), ...Object.fromEntries(parsePairs(rest, instr)) }; break;
      case 'EXPOSE': {
        const ports = { ...((c.ExposedPorts as Record<string, object>) ?? {}) };
        for (const p of rest.trim().split(/\s+/)) ports[p.includes('/') ? p : `${p}/tcp`] = {};
        c.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...((c.Volumes as Record<string, object>) ?? {}) };
        for (const v of rest.trim().startsWith('[') ? parseArgs(rest) : rest.trim().split(/\s+/)) vols[v] = {};
        c.Volumes = vols;
        break;
      }
      default:
        throw usage('import', `${instr} is not a valid change command`);
    }
  }
  return c;
}

/** Import a root filesystem tar as a new image; returns its id. */
export async function importRootfs(ctx: ImageContext, input: Readable, opts: ImportOptions = {}): Promise<string> {
  const content = contentStore(ctx);
  const images = imageStore(ctx);
  const ref = opts.reference ? parseReference(opts.reference) : undefined;
  if (ref?.digest) throw usage('import', `import: cannot tag with a digest reference ${opts.reference}`);
  const containerConfig = applyChanges({}, opts.changes ?? []);
  const lease = await images.lease({});
  const w = await content.ingest(`import-${process.pid}-${Date.now()}`, { restart: true });
  try {
    let layer;
    try {
      for await (const c of input) await w.write(c as Buffer);
      await lease.add({ digests: [w.digest()] });
      layer = await w.commit();
    } catch (err) {
      await w.abort();
      throw err;
    }
    const head = (await content.readBytes(layer.digest)).subarray(0, 8);
    const comp = sniffCompression(head);
    const mediaType = comp === 'gzip' ? MT.ociLayerGzip : comp === 'zstd' ? MT.ociLayerZstd : MT.ociLayer;
    const snaps = await snapshotter(ctx);
    const res = await snaps.unpackLayer({ tarStream: content.createReadStream(layer.digest), mediaType });
    await lease.add({ chains: [res.chainID] });
    const platform = normalizePlatform(opts.platform ?? hostPlatform());
    const created = new Date().toISOString();
    const config: ImageConfig = {
      architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}), created,
      config: containerConfig,
      rootfs: { type: 'layers', diff_ids: [res.diffID] },
      history: [{ created, created_by: '', comment: opts.message || `Imported from ${opts.source ?? '-'}` }],
      ...(opts.message ? { comment: opts.message } : {}),
    };
    const cfg = await content.writeBlob(JSON.stringify(config));
    const layerDesc = { mediaType, digest: layer.digest, size: layer.size };
    const manifest = await content.writeBlob(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, ...cfg }, layers: [layerDesc] }));
    const record: ImageRecord = {
      id: cfg.digest, manifest: { mediaType: MT.ociManifest, ...manifest }, config: { mediaType: MT.ociConfig, ...cfg }, layers: [layerDesc],
      diffIDs: [res.diffID], repoDigests: [], created, size: res.size, platform, added: created, source: 'import',
    };
    await images.put(record);
    if (ref) await images.setTag(formatReference(ref), record.id);
    return record.id;
  } finally {
    await lease.release();
  }
}
