/** `GET /version`: the engine's version at API 1.47 (docker-py reads `ApiVersion` unversioned). */
import { serverVersion } from '../engine/index.js';
import { API_VERSION, ENGINE_VERSION, MIN_API_VERSION } from './http.js';

export function versionBody(): Record<string, unknown> {
  const v = serverVersion(ENGINE_VERSION) as Record<string, any>;
  const components = (v.Components as Array<Record<string, any>>).map((c) => (c.Name === 'Engine'
    ? { ...c, Details: { ...c.Details, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION } } : c));
  const { APIVersion: _a, ...rest } = v;
  return { ...rest, Components: components, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION };
}
