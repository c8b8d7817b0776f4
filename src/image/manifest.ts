/** Media types and the JSON shapes of manifests, indexes and image configs (Docker schema2 + OCI). */
import { invalid } from '../lib/index.js';
import { isDigest } from '../content/index.js';

export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNDGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayout: 'application/vnd.oci.layout.header.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** Accept header for manifest requests, most preferred first. */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(', ');

import type { Descriptor, Manifest as ImageManifest, Index as ImageIndex, ImageConfig as OciImageConfig } from '../oci/index.js';

export type { Platform, Descriptor, HistoryEntry } from '../oci/index.js';
export type { ImageManifest, ImageIndex };

/** The image config with the Docker-only fields Docker's tools write (and `inspect` shows). */
export interface ImageConfig extends OciImageConfig {
  comment?: string;
  docker_version?: string;
  container?: string;
}

export type ManifestKind = 'index' | 'manifest';

export function isIndexType(mt: string | undefined): boolean {
  return mt === MT.ociIndex || mt === MT.dockerList;
}

export function isManifestType(mt: string | undefined): boolean {
  return mt === MT.ociManifest || mt === MT.dockerManifest;
}

export function isSchema1(mt: string | undefined, body?: unknown): boolean {
  if (mt === MT.schema1 || mt === MT.schema1Signed || mt === 'application/json' && (body as { schemaVersion?: number })?.schemaVersion === 1) return true;
  return (body as { schemaVersion?: number } | undefined)?.schemaVersion === 1;
}

export const SCHEMA1_MESSAGE = 'Docker Image Format v1 and Docker Image manifest version 2, schema 1 are no longer supported; '
  + 'the image must be rebuilt or pushed again with a current tool (docker, buildah, skopeo) to use schema 2 or OCI';

/** Layer compression from a media type: gzip, zstd or none. */
export function layerCompression(mt: string): 'gzip' | 'zstd' | 'none' {
  if (mt.endsWith('+gzip') || mt.endsWith('.tar.gzip') || mt === MT.dockerForeignLayer) return 'gzip';
  if (mt.endsWith('+zstd')) return 'zstd';
  if (mt.endsWith('.tar') || mt === MT.dockerLayer) return 'none';
  throw invalid('layer', `unsupported layer media type ${JSON.stringify(mt)}`);
}

/** Sniff the compression of a blob from its first bytes. */
export function sniffCompression(head: Buffer): 'gzip' | 'zstd' | 'none' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

function checkDescriptor(d: unknown, what: string, op: string): Descriptor {
  const x = d as Descriptor;
  if (!x || typeof x !== 'object') throw invalid(op, `${op}: ${what} is not an object`);
  if (typeof x.digest !== 'string' || !isDigest(x.digest)) throw invalid(op, `${op}: ${what} has an invalid or unsupported digest ${JSON.stringify(x.digest)}`);
  if (typeof x.size !== 'number' || !Number.isSafeInteger(x.size) || x.size < 0) throw invalid(op, `${op}: ${what} has an invalid size ${JSON.stringify(x.size)}`);
  if (typeof x.mediaType !== 'string') throw invalid(op, `${op}: ${what} has no mediaType`);
  return x;
}

export interface ParsedManifest {
  kind: ManifestKind;
  mediaType: string;
  index?: ImageIndex;
  manifest?: ImageManifest;
}

/**
 * Parse manifest bytes, deciding the type from the body's mediaType, else from the transport's
 * Content-Type, else from the shape. Schema 1 is refused with SCHEMA1_MESSAGE.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, op: string): ParsedManifest {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(op, `${op}: manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (!body || typeof body !== 'object') throw invalid(op, `${op}: manifest is not a JSON object`);
  const ct = contentType?.split(';')[0]?.trim();
  if (isSchema1(ct, body)) throw invalid(op, `${op}: ${SCHEMA1_MESSAGE}`);
  if (body.schemaVersion !== 2) throw invalid(op, `${op}: unsupported manifest schemaVersion ${JSON.stringify(body.schemaVersion)}`);
  let mt = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (!mt && ct && (isIndexType(ct) || isManifestType(ct))) mt = ct;
  if (!mt) mt = Array.isArray(body.manifests) ? MT.ociIndex : MT.ociManifest;
  if (isIndexType(mt)) {
    if (!Array.isArray(body.manifests)) throw invalid(op, `${op}: index has no manifests array`);
    body.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`, op));
    return { kind: 'index', mediaType: mt, index: body as unknown as ImageIndex };
  }
  if (isManifestType(mt)) {
    checkDescriptor(body.config, 'config', op);
    if (!Array.isArray(body.layers)) throw invalid(op, `${op}: manifest has no layers array`);
    body.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`, op));
    return { kind: 'manifest', mediaType: mt, manifest: body as unknown as ImageManifest };
  }
  throw invalid(op, `${op}: unsupported manifest media type ${JSON.stringify(mt)}`);
}

/** Validate the parts of an image config berth relies on. */
export function parseConfig(bytes: Buffer, op: string): ImageConfig {
  let c: ImageConfig;
  try {
    c = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(op, `${op}: image config is not valid JSON: ${(err as Error).message}`);
  }
  if (!c || typeof c !== 'object') throw invalid(op, `${op}: image config is not a JSON object`);
  if (!c.rootfs || !Array.isArray(c.rootfs.diff_ids)) throw invalid(op, `${op}: image config has no rootfs.diff_ids`);
  for (const d of c.rootfs.diff_ids) if (typeof d !== 'string' || !isDigest(d)) throw invalid(op, `${op}: image config has an invalid diff id ${JSON.stringify(d)}`);
  return c;
}
