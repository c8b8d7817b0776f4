/**
 * API versions: the range served (1.24 to 1.47, unversioned = 1.47), `GET /version`, and the few
 * answers that differ by the request's version where moby's differ and pinned clients read them.
 */
import { serverVersion } from '../engine/index.js';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
export const ENGINE_VERSION = '0.1.0';

/** `1.9` < `1.10`: numeric per part. */
export function cmpVersion(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

export const versionBelow = (version: string, than: string): boolean => cmpVersion(version, than) < 0;

/** `GET /version` (docker-py reads `ApiVersion` unversioned, and wants `GoVersion`). */
export function versionBody(): Record<string, unknown> {
  const v = serverVersion(ENGINE_VERSION) as Record<string, any>;
  const runtime = `node ${process.version}`;
  const components = (v.Components as Array<Record<string, any>>).map((c) => (c.Name === 'Engine'
    ? { ...c, Details: { ...c.Details, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GoVersion: runtime } } : c));
  const { APIVersion: _a, ...rest } = v;
  return { ...rest, Components: components, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GoVersion: runtime };
}

/** Which request a JSON answer belongs to. */
export interface Answering { method: string; path: string; version: string }

/**
 * A JSON answer as a client of an older API version expects it (moby's routers do the same):
 * - < 1.44: images carry `VirtualSize` (= `Size`), removed in 1.44.
 * The rest (attach/logs content types below 1.42, wait conditions below 1.30) belong to their routes.
 */
export function adaptBody(a: Answering, body: unknown): unknown {
  if (a.method !== 'GET' || !versionBelow(a.version, '1.44')) return body;
  const withVirtual = (img: unknown) => (img && typeof img === 'object' && 'Size' in img && !('VirtualSize' in img)
    ? { ...img, VirtualSize: (img as { Size: unknown }).Size } : img);
  if (a.path === '/images/json' && Array.isArray(body)) return body.map(withVirtual);
  if (/^\/images\/.+\/json$/.test(a.path)) return withVirtual(body);
  return body;
}
