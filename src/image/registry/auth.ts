/**
 * Registry authentication: `WWW-Authenticate` challenges, Bearer tokens from the realm (anonymous
 * or with credentials, OAuth2 refresh tokens), cached and reused per scope; Basic auth.
 */
import { BerthError } from '../../lib/index.js';
import type { Credentials } from './credentials.js';
import { errorText, httpRequest, readBody, type TlsOptions } from './http.js';

export interface Challenge {
  scheme: 'bearer' | 'basic' | string;
  params: Record<string, string>;
}

/** Parse a `WWW-Authenticate` header (one or more challenges). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : header ?? '';
  const out: Challenge[] = [];
  let cur: Challenge | undefined;
  let i = 0;
  const isTok = (c: string) => /[A-Za-z0-9_.!#$%&'*+^`|~\/-]/.test(c);
  while (i < text.length) {
    while (i < text.length && /[\s,]/.test(text[i]!)) i++;
    const s = i;
    while (i < text.length && isTok(text[i]!)) i++;
    if (i === s) { i++; continue; }
    const word = text.slice(s, i);
    let j = i;
    while (j < text.length && text[j] === ' ') j++;
    if (text[j] !== '=') {
      cur = { scheme: word.toLowerCase(), params: {} };
      out.push(cur);
      continue;
    }
    i = j + 1;
    while (i < text.length && text[i] === ' ') i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i++];
      }
      i++;
    } else {
      const v = i;
      while (i < text.length && text[i] !== ',' && !/\s/.test(text[i]!)) i++;
      value = text.slice(v, i);
    }
    if (cur) cur.params[word.toLowerCase()] = value;
  }
  return out;
}

interface CachedToken {
  token: string;
  expires: number;
}

export interface TokenRequest {
  realm: string;
  service?: string;
  scopes: string[];
  credentials?: Credentials;
  tls?: TlsOptions;
}

/** Scope string for a repository: `repository:library/busybox:pull,push`. */
export function repoScope(path: string, actions: string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

export function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64');
}

/** Fetches and caches bearer tokens. One instance can serve many registries. */
export class TokenCache {
  private cache = new Map<string, CachedToken>();
  private pending = new Map<string, Promise<string>>();

  private key(r: TokenRequest): string {
    return [r.realm, r.service ?? '', [...r.scopes].sort().join(' '), r.credentials?.username ?? '', r.credentials?.identityToken ? 'idt' : ''].join('|');
  }

  /** Forget tokens for this request (after the registry refused one). */
  invalidate(r: TokenRequest): void {
    this.cache.delete(this.key(r));
  }

  async token(r: TokenRequest): Promise<string> {
    const k = this.key(r);
    const hit = this.cache.get(k);
    if (hit && hit.expires > Date.now()) return hit.token;
    let p = this.pending.get(k);
    if (!p) {
      p = this.fetch(r).then((t) => {
        this.cache.set(k, t);
        return t.token;
      }).finally(() => this.pending.delete(k));
      this.pending.set(k, p);
    }
    return p;
  }

  private async fetch(r: TokenRequest): Promise<CachedToken> {
    const op = `auth ${r.service ?? r.realm}`;
    let realm: URL;
    try {
      realm = new URL(r.realm);
    } catch {
      throw new BerthError({ kind: 'remote', op, message: `${op}: invalid token realm ${JSON.stringify(r.realm)}` });
    }
    let res;
    if (r.credentials?.identityToken) {
      // OAuth2 refresh-token grant, as Docker does for identity tokens.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: r.credentials.identityToken, client_id: 'berth', access_type: 'offline' });
      if (r.service) form.set('service', r.service);
      form.set('scope', r.scopes.join(' '));
      res = await httpRequest({ method: 'POST', url: realm.href, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString(), tls: r.tls }, op);
    } else {
      if (r.service) realm.searchParams.set('service', r.service);
      for (const s of r.scopes) realm.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (r.credentials?.username) {
        realm.searchParams.set('account', r.credentials.username);
        headers.Authorization = basicHeader(r.credentials);
      }
      res = await httpRequest({ method: 'GET', url: realm.href, headers, tls: r.tls }, op);
    }
    if (res.status !== 200) {
      const why = await errorText(res, op);
      throw new BerthError({ kind: 'remote', op, code: `HTTP${res.status}`, message: `${op}: token request to ${realm.origin}${realm.pathname} failed: HTTP ${res.status}${res.status === 401 ? ' unauthorized: incorrect username or password' : ''} (${why})` });
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse((await readBody(res, 1 << 20, op)).toString('utf8'));
    } catch (err) {
      throw new BerthError({ kind: 'remote', op, message: `${op}: token response is not JSON: ${(err as Error).message}` });
    }
    const token = body.token || body.access_token;
    if (!token) throw new BerthError({ kind: 'remote', op, message: `${op}: token response has no token` });
    const lifetime = Math.max(60, Number(body.expires_in) || 60) * 1000;
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) && Math.abs(issued - Date.now()) < 3600_000 ? issued : Date.now();
    return { token, expires: start + lifetime - 10_000 };
  }
}
