/**
 * A distribution-spec v2 client for one registry domain: endpoint selection (mirrors, http
 * fallback for insecure hosts), ping, authentication, retries, and manifests. Blob transfer lives
 * in download.ts and upload.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { BerthError } from '../../lib/index.js';
import { sha256 } from '../../content/index.js';
import { MANIFEST_ACCEPT, parseManifest, type ParsedManifest } from '../manifest.js';
import { basicHeader, parseChallenges, repoScope, TokenCache, type Challenge } from './auth.js';
import { CredentialStore, type Credentials } from './credentials.js';
import { RegistryHosts, type Endpoint } from './hosts.js';
import { drain, errorText, httpRequest, isTransient, readBody, type HttpResponse, type TlsOptions } from './http.js';

export interface RegistryClientOptions {
  hosts?: RegistryHosts;
  /** where credentials come from (default: Docker's config file) */
  credentials?: CredentialStore | { get(domain: string): Promise<Credentials | undefined> };
  tokens?: TokenCache;
  /** attempts for idempotent requests after the first (default 4) */
  retries?: number;
  /** first backoff delay in ms, doubled each retry (default 250) */
  retryDelayMs?: number;
  timeoutMs?: number;
}

interface EndpointState {
  ep: Endpoint;
  scheme?: 'https' | 'http';
  challenge?: Challenge | null;
}

export interface RequestOptions {
  method: string;
  /** path below /v2/, e.g. `library/busybox/manifests/latest`; or an absolute URL (upload locations) */
  path: string;
  scopes: string[];
  headers?: Record<string, string>;
  body?: Buffer | string | (() => Readable);
  /** retry transient failures (default: GET/HEAD yes, others only when the body is a Buffer) */
  retry?: boolean;
  followRedirects?: boolean;
}

export interface FetchedManifest extends ParsedManifest {
  bytes: Buffer;
  digest: string;
}

const MANIFEST_LIMIT = 4 << 20;

export const sharedTokens = new TokenCache();

export class RegistryClient {
  readonly domain: string;
  readonly hosts: RegistryHosts;
  private readonly creds: NonNullable<RegistryClientOptions['credentials']>;
  private readonly tokens: TokenCache;
  readonly retries: number;
  readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private states = new Map<string, EndpointState>();
  private credCache: Promise<Credentials | undefined> | undefined;

  constructor(domain: string, opts: RegistryClientOptions = {}) {
    this.domain = domain;
    this.hosts = opts.hosts ?? new RegistryHosts();
    this.creds = opts.credentials ?? new CredentialStore();
    this.tokens = opts.tokens ?? sharedTokens;
    this.retries = opts.retries ?? 4;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** Endpoints for an operation, mirrors first when pulling from docker.io. */
  endpoints(purpose: 'pull' | 'push'): EndpointState[] {
    return this.hosts.endpoints(this.domain, purpose).map((ep) => {
      const key = `${ep.host}${ep.prefix}`;
      let st = this.states.get(key);
      if (!st) this.states.set(key, (st = { ep }));
      return st;
    });
  }

  credentials(): Promise<Credentials | undefined> {
    if (!this.credCache) this.credCache = this.creds.get(this.domain);
    return this.credCache;
  }

  tls(st: EndpointState): TlsOptions {
    const cert = this.hosts.clientCert(st.ep.host);
    // An insecure registry's certificate is not verified: no CA list to build (parsing a few
    // hundred root certificates costs tens of milliseconds).
    if (st.ep.skipVerify) return { rejectUnauthorized: false, ...(cert ?? {}) };
    return { ca: this.hosts.ca(st.ep.host), rejectUnauthorized: true, ...(cert ?? {}) };
  }

  baseURL(st: EndpointState): string {
    return `${st.scheme ?? st.ep.schemes[0]}://${st.ep.host}${st.ep.prefix}/v2/`;
  }

  /** GET /v2/: settles the scheme (https, or http for insecure hosts) and the auth challenge. */
  async ping(st: EndpointState): Promise<void> {
    if (st.scheme && st.challenge !== undefined) return;
    const op = `ping ${st.ep.host}`;
    let lastErr: unknown;
    for (const scheme of st.scheme ? [st.scheme] : st.ep.schemes) {
      const url = `${scheme}://${st.ep.host}${st.ep.prefix}/v2/`;
      let res: HttpResponse;
      try {
        res = await this.withRetry(op, () => httpRequest({ method: 'GET', url, tls: this.tls(st), timeoutMs: Math.min(this.timeoutMs, 30_000) }, op), true);
      } catch (err) {
        lastErr = err;
        continue; // next scheme (http after https fails for an insecure registry)
      }
      drain(res);
      if (res.status === 200 || res.status === 401) {
        st.scheme = scheme;
        st.challenge = res.status === 401 ? pickChallenge(parseChallenges(res.headers['www-authenticate'])) : null;
        return;
      }
      lastErr = new BerthError({ kind: 'remote', op, code: `HTTP${res.status}`, message: `${op}: ${url} answered HTTP ${res.status}: not a registry (distribution API v2)` });
    }
    throw lastErr instanceof BerthError ? lastErr : new BerthError({ kind: 'remote', op, message: `${op}: ${String(lastErr)}` });
  }

  private async authHeader(st: EndpointState, scopes: string[], fresh = false): Promise<string | undefined> {
    const ch = st.challenge;
    if (!ch) return undefined;
    const creds = await this.credentials();
    if (ch.scheme === 'basic') return creds?.username !== undefined ? basicHeader(creds) : undefined;
    if (ch.scheme !== 'bearer' || !ch.params.realm) return undefined;
    const extra = ch.params.scope ? ch.params.scope.split(' ') : [];
    const req = { realm: ch.params.realm, service: ch.params.service, scopes: [...new Set([...scopes, ...extra])], credentials: creds, tls: { ca: this.hosts.ca(new URL(ch.params.realm).host) } };
    if (fresh) this.tokens.invalidate(req);
    return 'Bearer ' + await this.tokens.token(req);
  }

  /** Backoff helper: retry `fn` on transient network errors and 429/5xx answers. */
  async withRetry(_op: string, fn: (attempt: number) => Promise<HttpResponse>, enabled: boolean): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse | undefined;
      try {
        res = await fn(attempt);
      } catch (err) {
        if (!enabled || attempt >= this.retries || !isTransient(err)) throw err;
      }
      if (res && !(enabled && attempt < this.retries && (res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504))) return res;
      let delay = this.retryDelayMs * 2 ** attempt;
      const ra = Number(res?.headers['retry-after']);
      if (Number.isFinite(ra) && ra > 0) delay = Math.max(delay, ra * 1000);
      if (res) drain(res);
      await sleep(Math.min(delay, 10_000));
    }
  }

  /** An authenticated request to one endpoint; a 401 refreshes the token once. */
  async request(st: EndpointState, o: RequestOptions, op: string): Promise<HttpResponse> {
    await this.ping(st);
    const retry = o.retry ?? (o.method === 'GET' || o.method === 'HEAD' || typeof o.body !== 'function');
    const url = /^https?:/.test(o.path) ? o.path : this.baseURL(st) + o.path;
    for (let authTry = 0; ; authTry++) {
      const auth = await this.authHeader(st, o.scopes, authTry > 0);
      const res = await this.withRetry(op, () => httpRequest({
        method: o.method, url, tls: this.tls(st), timeoutMs: this.timeoutMs, followRedirects: o.followRedirects,
        headers: { ...(auth ? { Authorization: auth } : {}), ...o.headers },
        body: typeof o.body === 'function' ? o.body() : o.body,
      }, op), retry);
      if (res.status !== 401 || authTry > 0) return res;
      const ch = pickChallenge(parseChallenges(res.headers['www-authenticate']));
      if (!ch) return res;
      drain(res);
      st.challenge = ch; // a streamed body is replayed from its factory
    }
  }

  /** Turn a non-success response into a BerthError naming the operation and the registry's reason. */
  async fail(res: HttpResponse, op: string, what: string): Promise<never> {
    const why = await errorText(res, op);
    if (res.status === 404) throw new BerthError({ kind: 'notfound', op, code: 'HTTP404', message: `${op}: ${what}: not found (${why})` });
    if (res.status === 401) {
      const creds = await this.credentials();
      throw new BerthError({ kind: 'remote', op, code: 'HTTP401', message: `${op}: ${what}: unauthorized: ${creds ? 'the registry refused the credentials' : 'authentication required (run berth login)'} (${why})` });
    }
    if (res.status === 403) throw new BerthError({ kind: 'remote', op, code: 'HTTP403', message: `${op}: ${what}: denied (${why})` });
    throw new BerthError({ kind: 'remote', op, code: `HTTP${res.status}`, message: `${op}: ${what}: HTTP ${res.status} (${why})` });
  }

  /**
   * Run `fn` against each endpoint in turn (mirrors, then the registry) until one succeeds;
   * the last endpoint's error is reported.
   */
  async onEndpoints<T>(purpose: 'pull' | 'push', fn: (st: EndpointState) => Promise<T>): Promise<T> {
    const eps = this.endpoints(purpose);
    let lastErr: unknown;
    for (const st of eps) {
      try {
        return await fn(st);
      } catch (err) {
        lastErr = err;
        if (!st.ep.mirror) break;
      }
    }
    throw lastErr;
  }

  /** Fetch and parse a manifest or index by tag or digest (a digest reference is verified). */
  async getManifest(repo: string, ref: string, opts: { purpose?: 'pull' | 'push'; op?: string } = {}): Promise<FetchedManifest> {
    const op = opts.op ?? `manifest ${this.domain}/${repo}:${ref}`.replace(/:sha256:/, '@sha256:');
    const scope = repoScope(repo, opts.purpose === 'push' ? ['pull', 'push'] : ['pull']);
    return this.onEndpoints(opts.purpose ?? 'pull', async (st) => {
      const res = await this.request(st, { method: 'GET', path: `${repo}/manifests/${ref}`, scopes: [scope], headers: { Accept: MANIFEST_ACCEPT } }, op);
      if (res.status !== 200) return this.fail(res, op, `manifest ${ref}`);
      const bytes = await readBody(res, MANIFEST_LIMIT, op);
      const digest = sha256(bytes);
      if (ref.startsWith('sha256:') && digest !== ref) {
        throw new BerthError({ kind: 'invalid', op, message: `${op}: digest mismatch: the registry sent content with digest ${digest}` });
      }
      const hdr = res.headers['docker-content-digest'];
      if (typeof hdr === 'string' && hdr.startsWith('sha256:') && hdr !== digest) {
        throw new BerthError({ kind: 'invalid', op, message: `${op}: digest mismatch: Docker-Content-Digest says ${hdr}, content is ${digest}` });
      }
      const parsed = parseManifest(bytes, res.headers['content-type'], op);
      return { ...parsed, bytes, digest };
    });
  }

  /** HEAD a manifest: its digest and media type, or undefined when the registry does not have it. */
  async headManifest(repo: string, ref: string): Promise<{ digest?: string; mediaType?: string; size?: number } | undefined> {
    const op = `manifest ${this.domain}/${repo}:${ref}`;
    return this.onEndpoints('push', async (st) => {
      const res = await this.request(st, { method: 'HEAD', path: `${repo}/manifests/${ref}`, scopes: [repoScope(repo, ['pull'])], headers: { Accept: MANIFEST_ACCEPT } }, op);
      drain(res);
      if (res.status === 404) return undefined;
      if (res.status !== 200) return this.fail(res, op, `manifest ${ref}`);
      const d = res.headers['docker-content-digest'];
      return { digest: typeof d === 'string' ? d : undefined, mediaType: res.headers['content-type']?.split(';')[0], size: Number(res.headers['content-length']) };
    });
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports. */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    const op = `push manifest ${this.domain}/${repo}:${ref}`;
    const st = this.endpoints('push').at(-1)!;
    const res = await this.request(st, { method: 'PUT', path: `${repo}/manifests/${ref}`, scopes: [repoScope(repo, ['pull', 'push'])], headers: { 'Content-Type': mediaType }, body: bytes }, op);
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) return this.fail(res, op, `manifest ${ref}`);
    drain(res);
    const digest = sha256(bytes);
    const hdr = res.headers['docker-content-digest'];
    if (typeof hdr === 'string' && hdr !== digest) throw new BerthError({ kind: 'remote', op, message: `${op}: registry stored digest ${hdr}, expected ${digest}` });
    return digest;
  }

  /** List tags of a repository. */
  async tags(repo: string): Promise<string[]> {
    const op = `tags ${this.domain}/${repo}`;
    return this.onEndpoints('pull', async (st) => {
      const res = await this.request(st, { method: 'GET', path: `${repo}/tags/list`, scopes: [repoScope(repo, ['pull'])] }, op);
      if (res.status !== 200) return this.fail(res, op, 'tags');
      const j = JSON.parse((await readBody(res, 16 << 20, op)).toString('utf8')) as { tags?: string[] | null };
      return j.tags ?? [];
    });
  }

  /** Verify that the configured credentials are accepted (for `login`). */
  async checkLogin(): Promise<void> {
    const st = this.endpoints('push').at(-1)!;
    const op = `login ${this.domain}`;
    await this.ping(st);
    if (!st.challenge) return;
    const res = await this.request(st, { method: 'GET', path: '', scopes: [] }, op);
    drain(res);
    if (res.status !== 200) await this.fail(res, op, st.ep.host);
  }
}

function pickChallenge(list: Challenge[]): Challenge | null {
  return list.find((c) => c.scheme === 'bearer') ?? list.find((c) => c.scheme === 'basic') ?? null;
}

export type { EndpointState };
