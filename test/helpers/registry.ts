/**
 * Test fixture: Debian's docker-registry (distribution 2.8) on 127.0.0.1, plain, behind htpasswd
 * basic auth, or behind token auth with a small in-test token server that signs ES256 JWTs.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { busyboxRootfs } from './rootfs.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function haveRegistry(): boolean {
  return existsSync(REGISTRY_BIN);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A bcrypt hash for htpasswd: `htpasswd -B` when installed, else libcrypt's crypt() through koffi. */
export async function bcrypt(password: string): Promise<string> {
  try {
    const out = execFileSync('htpasswd', ['-nbB', 'x', password], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim().split(':')[1]!;
  } catch { /* not installed: apache2-utils is missing */ }
  const koffi = (await import('koffi')).default;
  const lib = koffi.load('libcrypt.so.1');
  const gensalt = lib.func('char* crypt_gensalt(const char*, unsigned long, const char*, int)');
  const crypt = lib.func('char* crypt(const char*, const char*)');
  return crypt(password, gensalt('$2b$', 5, null, 0)) as string;
}

export interface TokenServerStats {
  /** token requests received, with the scopes asked for and the account */
  requests: { scopes: string[]; account?: string; service?: string }[];
}

export interface RegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  /** users for htpasswd/token auth (default { tester: 'secret-pw' }) */
  users?: Record<string, string>;
  /** token auth: anonymous clients get pull access (default true) */
  anonymousPull?: boolean;
  /** token auth: token lifetime in seconds (default 300) */
  tokenLifetime?: number;
  /** serve https with a self-signed certificate for 127.0.0.1 (its PEM is `TestRegistry.caCert`) */
  tls?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  url: string;
  /** the registry's storage root (…/docker/registry/v2/…) */
  storage: string;
  users: Record<string, string>;
  tokens?: TokenServerStats;
  /** path of the self-signed certificate when started with `tls` */
  caCert?: string;
  log(): string;
  stop(): Promise<void>;
}

/** libtrust key id of a public key (what distribution's token auth uses as `kid`). */
function libtrustKeyID(spkiDer: Buffer): string {
  const sum = createHash('sha256').update(spkiDer).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of sum) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out.match(/.{1,4}/g)!.join(':');
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

async function startTokenServer(dir: string, opts: RegistryOptions, users: Record<string, string>): Promise<{ realm: string; certPath: string; stats: TokenServerStats; close: () => Promise<void> }> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=berth-test-token'], { stdio: 'ignore' });
  const key = createPrivateKey(readFileSync(keyPath));
  const kid = libtrustKeyID(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const stats: TokenServerStats = { requests: [] };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    let account: string | undefined;
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      const dec = Buffer.from(authz.slice(6), 'base64').toString();
      const i = dec.indexOf(':');
      const [user, pass] = [dec.slice(0, i), dec.slice(i + 1)];
      if (users[user] !== pass) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      account = user;
    }
    stats.requests.push({ scopes, account, service: u.searchParams.get('service') ?? undefined });
    const access = scopes.map((s) => {
      const parts = s.split(':');
      const actions = (parts.pop() ?? '').split(',');
      const type = parts.shift() ?? '';
      const name = parts.join(':');
      const granted = account ? actions : opts.anonymousPull === false ? [] : actions.filter((a) => a === 'pull');
      return { type, name, actions: granted };
    });
    const now = Math.floor(Date.now() / 1000);
    const lifetime = opts.tokenLifetime ?? 300;
    const header = { typ: 'JWT', alg: 'ES256', kid };
    const claims = { iss: 'berth-test-issuer', sub: account ?? '', aud: 'berth-test-registry', exp: now + lifetime, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: lifetime, issued_at: new Date(now * 1000).toISOString() }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${port}/token`, certPath, stats,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Start a registry for one test; `stop()` kills it and removes its storage. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const storage = join(dir, 'storage');
  const users = opts.users ?? { tester: 'secret-pw' };
  let token: Awaited<ReturnType<typeof startTokenServer>> | undefined;
  let child: ChildProcess | undefined;
  let log = '';
  try {
    const port = await freePort();
    let auth = '';
    if (opts.auth === 'htpasswd') {
      const lines = await Promise.all(Object.entries(users).map(async ([u, p]) => `${u}:${await bcrypt(p)}`));
      writeFileSync(join(dir, 'htpasswd'), lines.join('\n') + '\n');
      auth = `auth:\n  htpasswd:\n    realm: berth-test-realm\n    path: ${join(dir, 'htpasswd')}\n`;
    } else if (opts.auth === 'token') {
      token = await startTokenServer(dir, opts, users);
      auth = `auth:\n  token:\n    realm: ${token.realm}\n    service: berth-test-registry\n    issuer: berth-test-issuer\n    rootcertbundle: ${token.certPath}\n`;
    }
    let tls = '';
    let caCert: string | undefined;
    if (opts.tls) {
      caCert = join(dir, 'registry.crt');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'registry.key'), '-out', caCert,
        '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
      tls = `  tls:\n    certificate: ${caCert}\n    key: ${join(dir, 'registry.key')}\n`;
    }
    const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${randomBytes(16).toString('hex')}
${tls}${auth}`;
    writeFileSync(join(dir, 'config.yml'), config);
    child = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => { log += d; });
    child.stderr!.on('data', (d) => { log += d; });
    const host = `127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log}`);
      const ok = await new Promise<boolean>((resolve) => {
        const get = opts.tls ? (u: string, cb: (res: http.IncomingMessage) => void) => https.get(u, { rejectUnauthorized: false }, cb) : http.get;
        const r = get(`${opts.tls ? 'https' : 'http'}://${host}/v2/`, (res) => { res.resume(); resolve(res.statusCode === 200 || res.statusCode === 401); });
        r.on('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${log}`);
      await sleep(50);
    }
    const proc = child;
    const tok = token;
    return {
      host, url: `${opts.tls ? 'https' : 'http'}://${host}`, storage, users, tokens: tok?.stats, caCert,
      log: () => log,
      stop: async () => {
        if (proc.exitCode === null) {
          const exited = new Promise((resolve) => proc.once('exit', resolve));
          proc.kill('SIGTERM');
          await Promise.race([exited, sleep(5000).then(() => proc.kill('SIGKILL'))]);
        }
        await tok?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    await token?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Path of a blob's data file in the registry's storage (to corrupt it in hostile tests). */
export function registryBlobPath(reg: TestRegistry, digest: string): string {
  const hex = digest.slice(7);
  return join(reg.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}


// ---------- images built for tests ----------

export interface LayerBlob {
  /** uncompressed tar */
  tar: Buffer;
  /** the blob as stored in the registry (compressed or not) */
  blob: Buffer;
  mediaType: string;
  digest: string;
  diffID: string;
}

export const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const dg = (b: Buffer | string) => 'sha256:' + sha256hex(b);

/** A layer from a tar (as bytes), compressed as asked. */
export function layerFromTar(tar: Buffer, compression: 'gzip' | 'zstd' | 'none' = 'gzip', oci = true): LayerBlob {
  let blob = tar;
  let mediaType = oci ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.docker.image.rootfs.diff.tar';
  if (compression === 'gzip') {
    blob = gzipSync(tar);
    mediaType = oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  } else if (compression === 'zstd') {
    blob = execFileSync('zstd', ['-q', '-c', '-3'], { input: tar, maxBuffer: 1 << 30 });
    mediaType = 'application/vnd.oci.image.layer.v1.tar+zstd';
  }
  return { tar, blob, mediaType, digest: dg(blob), diffID: dg(tar) };
}

/** A layer from a directory (GNU tar, numeric owners, sorted names). */
export function layerFromDir(dir: string, compression: 'gzip' | 'zstd' | 'none' = 'gzip', oci = true): LayerBlob {
  const tar = execFileSync('tar', ['--numeric-owner', '--sort=name', '--xattrs', '-C', dir, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
  return layerFromTar(tar, compression, oci);
}

/** The busybox rootfs (test/helpers/rootfs.ts) as one layer. */
export function busyboxLayer(compression: 'gzip' | 'zstd' | 'none' = 'gzip', oci = true): LayerBlob {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bb-'));
  try {
    busyboxRootfs(dir);
    return layerFromDir(dir, compression, oci);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  config: Buffer;
  configDigest: string;
  layers: LayerBlob[];
}

export interface BuildOptions {
  format?: 'oci' | 'docker';
  architecture?: string;
  os?: string;
  variant?: string;
  config?: Record<string, unknown>;
  labels?: Record<string, string>;
  created?: string;
}

/** An image manifest + config over the given layers. */
export function buildImage(layers: LayerBlob[], o: BuildOptions = {}): BuiltImage {
  const oci = (o.format ?? 'oci') === 'oci';
  const created = o.created ?? '2024-01-02T03:04:05Z';
  const cfg = {
    architecture: o.architecture ?? 'amd64', os: o.os ?? 'linux', ...(o.variant ? { variant: o.variant } : {}), created,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], ...(o.labels ? { Labels: o.labels } : {}), ...o.config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
    history: layers.map((_, i) => ({ created, created_by: `/bin/sh -c #(nop) layer ${i}` })),
  };
  const config = Buffer.from(JSON.stringify(cfg));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', digest: dg(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
  }));
  return { manifest, manifestDigest: dg(manifest), mediaType: oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json', config, configDigest: dg(config), layers };
}

/** An index over images built for different platforms. */
export function buildIndex(images: { image: BuiltImage; platform: { os: string; architecture: string; variant?: string } }[], format: 'oci' | 'docker' = 'oci'): { bytes: Buffer; digest: string; mediaType: string } {
  const mediaType = format === 'oci' ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.docker.distribution.manifest.list.v2+json';
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType,
    manifests: images.map(({ image, platform }) => ({ mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifest.length, platform })),
  }));
  return { bytes, digest: dg(bytes), mediaType };
}

/** Write an OCI image layout directory holding `image` under `tag`. */
export function writeLayout(dir: string, image: BuiltImage, tag: string): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  for (const b of [image.manifest, image.config, ...image.layers.map((l) => l.blob)]) writeFileSync(join(dir, 'blobs/sha256', sha256hex(b)), b);
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
}

/** Run skopeo asynchronously (the token server lives in this process and must keep answering). */
export function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { encoding: 'utf8', maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function credsArgs(reg: TestRegistry, flag: '--creds' | '--dest-creds' | '--src-creds'): string[] {
  const [u, p] = Object.entries(reg.users)[0] ?? [];
  return u ? [flag, `${u}:${p}`] : [];
}

/** Push a built image to `reg` as `repo:tag` with skopeo (an independent implementation). */
export async function pushWithSkopeo(reg: TestRegistry, image: BuiltImage, repoTag: string, opts: { auth?: boolean } = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-layout-'));
  try {
    writeLayout(dir, image, 'x');
    await skopeo(['copy', '--quiet', '--dest-tls-verify=false', ...(opts.auth ? credsArgs(reg, '--dest-creds') : []), `oci:${dir}:x`, `docker://${reg.host}/${repoTag}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Build the busybox image and push it as `repo:tag` (skopeo); returns what was pushed. */
export async function pushBusybox(reg: TestRegistry, repoTag: string, opts: BuildOptions & { auth?: boolean; compression?: 'gzip' | 'zstd' | 'none' } = {}): Promise<BuiltImage> {
  const image = buildImage([busyboxLayer(opts.compression ?? 'gzip', (opts.format ?? 'oci') === 'oci')], opts);
  await pushWithSkopeo(reg, image, repoTag, opts);
  return image;
}

/**
 * Push blobs and a manifest with plain HTTP requests, no validation of our own: for crafted
 * (hostile) images. Only for registries without auth.
 */
export async function pushRaw(reg: TestRegistry, repo: string, ref: string, blobs: Buffer[], manifest: Buffer, mediaType: string): Promise<string> {
  for (const b of blobs) {
    const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`pushRaw: POST upload: HTTP ${start.status}`);
    const loc = new URL(start.headers.get('location')!, reg.url);
    loc.searchParams.set('digest', dg(b));
    const put = await fetch(loc, { method: "PUT", body: new Uint8Array(b), headers: { 'Content-Type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`pushRaw: PUT blob: HTTP ${put.status} ${await put.text()}`);
  }
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: "PUT", body: new Uint8Array(manifest), headers: { "Content-Type": mediaType } });
  if (res.status !== 201) throw new Error(`pushRaw: PUT manifest: HTTP ${res.status} ${await res.text()}`);
  return dg(manifest);
}

/** Push a built image (blobs + manifest) with pushRaw. */
export async function pushImageRaw(reg: TestRegistry, repo: string, ref: string, image: BuiltImage): Promise<string> {
  return pushRaw(reg, repo, ref, [image.config, ...image.layers.map((l) => l.blob)], image.manifest, image.mediaType);
}
