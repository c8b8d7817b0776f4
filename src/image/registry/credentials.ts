/**
 * Registry credentials from Docker's config file (`$DOCKER_CONFIG/config.json` or
 * `~/.docker/config.json`): `auths` entries (base64 `auth`, `identitytoken`), per-registry
 * `credHelpers` and the default `credsStore`, run as `docker-credential-<name> get|store|erase`.
 */
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BerthError, invalid } from '../../lib/index.js';
import { readJSONFile, writeFileAtomic } from '../../content/index.js';
import { DEFAULT_DOMAIN } from '../reference.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (Docker's `identitytoken`) */
  identityToken?: string;
}

export interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; email?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [k: string]: unknown;
}

/** The key Docker uses for Docker Hub in `auths`. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export function dockerConfigDir(): string {
  return process.env.DOCKER_CONFIG || join(homedir(), '.docker');
}

export function dockerConfigPath(dir = dockerConfigDir()): string {
  return join(dir, 'config.json');
}

/** `https://index.docker.io/v1/` → `index.docker.io`, `http://host:5000/x` → `host:5000`. */
export function hostOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
}

/** The server key Docker stores for a registry domain. */
export function serverKey(domain: string): string {
  return domain === DEFAULT_DOMAIN || domain === 'index.docker.io' || domain === 'registry-1.docker.io' ? DOCKER_HUB_KEY : domain;
}

function sameRegistry(key: string, domain: string): boolean {
  const h = hostOfKey(key);
  const hub = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
  return h === domain.toLowerCase() || (hub.includes(h) && hub.includes(domain.toLowerCase()));
}

/** Run `docker-credential-<helper> <action>` with `input` on stdin; returns stdout. */
export function runCredentialHelper(helper: string, action: 'get' | 'store' | 'erase' | 'list', input: string): Promise<string> {
  const prog = `docker-credential-${helper}`;
  const op = `credential helper ${prog} ${action}`;
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(prog, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(new BerthError({ kind: 'system', op, message: `${op}: ${(err as Error).message}`, cause: err }));
      return;
    }
    let out = '';
    let errOut = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { errOut += d; });
    child.stdin.on('error', () => {});
    child.on('error', (err: NodeJS.ErrnoException) => reject(new BerthError({
      kind: 'system', op, code: err.code,
      message: err.code === 'ENOENT' ? `${op}: ${prog} not found in PATH` : `${op}: ${err.message}`, cause: err,
    })));
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new BerthError({ kind: 'system', op, message: `${op}: exit status ${code}: ${(out + errOut).trim()}` }));
    });
    child.stdin.end(input);
  });
}

export class CredentialStore {
  readonly configPath: string;

  constructor(configPath = dockerConfigPath()) {
    this.configPath = configPath;
  }

  async readConfig(): Promise<DockerConfigFile> {
    return (await readJSONFile<DockerConfigFile>(this.configPath)) ?? {};
  }

  private helperFor(cfg: DockerConfigFile, domain: string): string | undefined {
    for (const [k, v] of Object.entries(cfg.credHelpers ?? {})) if (sameRegistry(k, domain)) return v;
    return cfg.credsStore || undefined;
  }

  /** Credentials for a registry domain (`docker.io`, `localhost:5000`), or undefined (anonymous). */
  async get(domain: string): Promise<Credentials | undefined> {
    const cfg = await this.readConfig();
    const helper = this.helperFor(cfg, domain);
    if (helper) {
      try {
        const out = await runCredentialHelper(helper, 'get', serverKey(domain));
        const j = JSON.parse(out) as { Username?: string; Secret?: string };
        if (j.Username === '<token>') return { identityToken: j.Secret };
        if (j.Username || j.Secret) return { username: j.Username, password: j.Secret };
      } catch (err) {
        // "credentials not found in native keychain" → anonymous, like Docker
        if (!/not found|exit status 1/i.test((err as Error).message) || /not found in PATH/.test((err as Error).message)) throw err;
      }
    }
    for (const [k, v] of Object.entries(cfg.auths ?? {})) {
      if (!sameRegistry(k, domain)) continue;
      const c: Credentials = {};
      if (v.auth) {
        const dec = Buffer.from(v.auth, 'base64').toString('utf8');
        const i = dec.indexOf(':');
        if (i < 0) throw invalid('credentials', `${this.configPath}: auths[${JSON.stringify(k)}].auth is not base64 of user:password`, this.configPath);
        c.username = dec.slice(0, i);
        c.password = dec.slice(i + 1);
      } else if (v.username) {
        c.username = v.username;
        c.password = v.password;
      }
      if (v.identitytoken) c.identityToken = v.identitytoken;
      if (c.username || c.identityToken) return c;
    }
    return undefined;
  }

  /** Save credentials (through the helper when one is configured), like `docker login`. */
  async store(domain: string, cred: Credentials): Promise<'helper' | 'file'> {
    const cfg = await this.readConfig();
    const key = serverKey(domain);
    const helper = this.helperFor(cfg, domain);
    if (helper) {
      const payload = cred.identityToken ? { ServerURL: key, Username: '<token>', Secret: cred.identityToken } : { ServerURL: key, Username: cred.username ?? '', Secret: cred.password ?? '' };
      await runCredentialHelper(helper, 'store', JSON.stringify(payload));
      cfg.auths = cfg.auths ?? {};
      cfg.auths[key] = {}; // Docker records the server with an empty entry
    } else {
      cfg.auths = cfg.auths ?? {};
      const entry: NonNullable<DockerConfigFile['auths']>[string] = {};
      if (cred.username !== undefined) entry.auth = Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64');
      if (cred.identityToken) entry.identitytoken = cred.identityToken;
      cfg.auths[key] = entry;
    }
    await writeFileAtomic(this.configPath, JSON.stringify(cfg, null, '\t') + '\n', 0o600);
    return helper ? 'helper' : 'file';
  }

  /** Remove credentials; returns false when there were none. */
  async erase(domain: string): Promise<boolean> {
    const cfg = await this.readConfig();
    const helper = this.helperFor(cfg, domain);
    let found = false;
    if (helper) {
      try {
        await runCredentialHelper(helper, 'erase', serverKey(domain));
        found = true;
      } catch { /* not stored there */ }
    }
    for (const k of Object.keys(cfg.auths ?? {})) {
      if (sameRegistry(k, domain)) {
        delete cfg.auths![k];
        found = true;
      }
    }
    if (found) await writeFileAtomic(this.configPath, JSON.stringify(cfg, null, '\t') + '\n', 0o600);
    return found;
  }
}
