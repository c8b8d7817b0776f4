/**
 * Benchmark fixtures for image transfer: a Debian minbase image (one layer, from debootstrap) and
 * a 30-layer image cut from the same tree, built once as OCI layouts and pushed with skopeo into
 * a local docker-registry that the benchmark starts (storage kept under BENCH_DIR).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BENCH_DIR = process.env.BENCH_DIR ?? '/var/tmp/berth-bench';

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/** debootstrap --variant=minbase bookworm (needs Debian's mirror, as apt does). */
export function minbaseRootfs(): string {
  const dir = join(BENCH_DIR, 'minbase');
  if (!existsSync(join(dir, 'etc/debian_version'))) {
    rmSync(dir, { recursive: true, force: true });
    execFileSync('debootstrap', ['--variant=minbase', 'bookworm', dir, 'http://deb.debian.org/debian'], { stdio: 'inherit' });
  }
  return dir;
}

/** Write an OCI layout with one manifest whose layers are the given gzip tarballs. */
export async function ociLayout(out: string, layers: string[]): Promise<void> {
  const blobs = join(out, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const descs = [];
  const diffIDs = [];
  for (const gz of layers) {
    const digest = await sha256File(gz);
    renameSync(gz, join(blobs, digest));
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${digest}`, size: statSync(join(blobs, digest)).size });
    diffIDs.push('sha256:' + execFileSync('sh', ['-c', `gzip -dc '${join(blobs, digest)}' | sha256sum | cut -d' ' -f1`], { encoding: 'utf8' }).trim());
  }
  const blob = (obj: unknown) => {
    const b = Buffer.from(JSON.stringify(obj));
    const d = createHash('sha256').update(b).digest('hex');
    writeFileSync(join(blobs, d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const config = blob({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/bash'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] }, rootfs: { type: 'layers', diff_ids: diffIDs }, history: layers.map(() => ({ created_by: 'berth bench fixture' })) });
  const manifest = blob({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: descs });
  writeFileSync(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(out, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
}

/** The one-layer minbase image and the 30-layer image as OCI layouts (built once). */
export async function buildLayouts(): Promise<{ minbase: string; layered: string }> {
  const root = minbaseRootfs();
  const minbase = join(BENCH_DIR, 'oci-minbase');
  if (!existsSync(join(minbase, 'index.json'))) {
    rmSync(minbase, { recursive: true, force: true });
    const gz = join(BENCH_DIR, 'minbase.tar.gz');
    execFileSync('sh', ['-c', `tar -C '${root}' --numeric-owner -cf - . | gzip -6 > '${gz}'`]);
    await ociLayout(minbase, [gz]);
  }
  const layered = join(BENCH_DIR, 'oci-layered30');
  if (!existsSync(join(layered, 'index.json'))) {
    rmSync(layered, { recursive: true, force: true });
    // Cut the tree's top-level entries (and /usr's children) into 30 layers of similar size.
    const entries = [...readdirSync(root).filter((e) => e !== 'usr').map((e) => e), ...readdirSync(join(root, 'usr')).map((e) => `usr/${e}`),
      ...readdirSync(join(root, 'usr/lib')).map((e) => `usr/lib/${e}`)].filter((e) => e !== 'usr/lib');
    const groups: string[][] = Array.from({ length: 30 }, () => []);
    entries.forEach((e, i) => groups[i % 30]!.push(e));
    const gzs: string[] = [];
    for (const [i, g] of groups.entries()) {
      const gz = join(BENCH_DIR, `layer${i}.tar.gz`);
      execFileSync('sh', ['-c', `tar -C '${root}' --numeric-owner -cf - ${g.map((e) => `'./${e}'`).join(' ')} | gzip -6 > '${gz}'`]);
      gzs.push(gz);
    }
    await ociLayout(layered, gzs);
  }
  return { minbase, layered };
}

export interface Registry { addr: string; proc: ChildProcess; stop(): void }

/** A docker-registry on 127.0.0.1:PORT with its storage under BENCH_DIR (kept between runs). */
export async function startRegistry(port = 5055): Promise<Registry> {
  const dir = join(BENCH_DIR, 'registry');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const addr = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { execFileSync('curl', ['-fsS', `http://${addr}/v2/`], { stdio: 'ignore' }); return { addr, proc, stop: () => proc.kill() }; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  proc.kill();
  throw new Error('bench registry did not start');
}

/** Push the fixture layouts (skopeo) unless the registry has them already. */
export async function pushFixtures(reg: Registry): Promise<{ minbase: string; layered: string }> {
  const names = { minbase: `${reg.addr}/bench/minbase:latest`, layered: `${reg.addr}/bench/layered30:latest` };
  const layouts = await buildLayouts();
  for (const [k, ref] of Object.entries(names) as Array<[keyof typeof names, string]>) {
    try { execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { stdio: 'ignore' }); continue; } catch { /* push it */ }
    execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layouts[k]}:latest`, `docker://${ref}`], { stdio: 'inherit' });
  }
  return names;
}
