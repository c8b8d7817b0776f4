/**
 * Registry credentials on the Engine API: `X-Registry-Auth` (base64url JSON, decoded leniently;
 * garbage is no credentials, as moby) and `POST /auth` (docker login: the daemon only checks them,
 * the client stores them). A request with credentials gets an image context of its own that
 * shares the engine's stores and snapshotter.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BerthError } from '../lib/index.js';
import type { EngineCore } from '../engine/index.js';
import { registryHosts, snapshotter, type ImageContext } from '../image/index.js';
import { RegistryClient, type Credentials } from '../image/registry/index.js';
import { ApiError, messageOf, readJSON, sendJSON, type ApiContext } from './http.js';

interface AuthConfig { username?: string; password?: string; auth?: string; serveraddress?: string; identitytoken?: string; registrytoken?: string }

function toCredentials(a: AuthConfig | undefined): Credentials | undefined {
  if (!a || typeof a !== 'object') return undefined;
  let { username, password } = a;
  if (!username && a.auth) {
    const dec = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i > 0) { username = dec.slice(0, i); password = dec.slice(i + 1); }
  }
  if (a.identitytoken) return { identityToken: a.identitytoken, ...(username ? { username } : {}) };
  return username || password ? { username: username ?? '', password: password ?? '' } : undefined;
}

/** `X-Registry-Auth`: standard or url-safe base64, padding optional; anything unreadable is no credentials. */
export function registryAuth(req: IncomingMessage): Credentials | undefined {
  const h = req.headers['x-registry-auth'];
  const raw = Array.isArray(h) ? h[0] : h;
  if (!raw) return undefined;
  try {
    return toCredentials(JSON.parse(Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as AuthConfig);
  } catch { return undefined; }
}

/** `X-Registry-Config` (builds): registry → auth config, keyed by server address. */
export function registryConfig(req: IncomingMessage): Map<string, Credentials> {
  const h = req.headers['x-registry-config'];
  const raw = Array.isArray(h) ? h[0] : h;
  const out = new Map<string, Credentials>();
  if (!raw) return out;
  try {
    const m = JSON.parse(Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, AuthConfig>;
    for (const [k, v] of Object.entries(m ?? {})) {
      const c = toCredentials(v);
      if (c) out.set(registryDomain(k), c);
    }
  } catch { /* no credentials */ }
  return out;
}

/** The engine for a build: its image context answers with the build's registry credentials first. */
export async function engineWithBuildAuth(ctx: ApiContext): Promise<EngineCore> {
  const creds = registryConfig(ctx.req);
  if (!creds.size) return ctx.core;
  const base = ctx.core.images;
  const images: ImageContext = {
    ...base, snapshotter: await snapshotter(base),
    credentials: { get: async (domain: string) => creds.get(domain) ?? base.credentials?.get(domain) },
  };
  // the lazily opened parts live on the engine itself, shared by the view below
  void ctx.core.store;
  void ctx.core.network;
  return Object.create(ctx.core, { images: { value: images } }) as EngineCore;
}

/** The engine's image context, or one that answers with the request's credentials first. */
export async function imagesWithAuth(ctx: ApiContext): Promise<ImageContext> {
  const creds = registryAuth(ctx.req);
  if (!creds) return ctx.core.images;
  const base = ctx.core.images;
  const fallback = base.credentials;
  return {
    ...base, snapshotter: await snapshotter(base),
    credentials: { get: async (domain: string) => creds ?? fallback?.get(domain) },
  };
}

/** `https://index.docker.io/v1/`, `docker.io`, `http://host:5000/` → the registry's domain. */
export function registryDomain(server: string | undefined): string {
  if (!server) return 'docker.io';
  const host = server.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
  return ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host) ? 'docker.io' : host;
}

/** `POST /auth`: the credentials checked against the registry; 401 when it refuses them. */
export async function postAuth(ctx: ApiContext, res: ServerResponse): Promise<void> {
  const body = await readJSON<AuthConfig>(ctx.req);
  const creds = toCredentials(body);
  const domain = registryDomain(body.serveraddress);
  const client = new RegistryClient(domain, { hosts: registryHosts(ctx.core.images), credentials: { get: async () => creds } });
  try {
    await client.checkLogin();
  } catch (e) {
    if (e instanceof BerthError && (e.code === 'HTTP401' || e.code === 'HTTP403')) throw new ApiError(401, messageOf(e));
    throw e;
  }
  sendJSON(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
}
