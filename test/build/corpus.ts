/**
 * The build corpus (test/build/corpus/): one directory per case under cases/ (a Dockerfile and its
 * context), the expectations recorded from the oracles under expected/<case>.json. A case's build
 * options ride in a `# corpus: key=value ...` comment of its Dockerfile:
 *   oracle=docker|podman|berth   who recorded the expectation (default docker: classic
 *                                `DOCKER_BUILDKIT=0 docker build` on dockerd 20.10; podman: `podman
 *                                build`, buildah; berth: neither oracle here has the feature, the
 *                                expectation is berth's output checked by hand against BuildKit)
 *   arg=K=V  target=S  secret=id=..,src=FILE (relative to the case)  note=free text (to the end)
 * Shared by corpus.test.ts (berth against the expectations) and scripts/build-oracle.mjs (which
 * rewrites the expectations from the oracles).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listing, untar } from './util.js';

/** test/build/corpus in the source tree (this file runs from build/test/build). */
export const CORPUS = fileURLToPath(new URL('../../../test/build/corpus', import.meta.url));

export interface CorpusCase {
  name: string;
  dir: string;
  oracle: 'docker' | 'podman' | 'berth';
  args: string[];
  target?: string;
  secrets: string[];
  note?: string;
}

export interface Expected {
  oracle: string;
  note?: string;
  config: Record<string, unknown>;
  /** listings of the layers above the busybox base */
  layers: string[][];
}

export function readCases(root = CORPUS): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (const name of readdirSync(join(root, 'cases')).sort()) {
    const dir = join(root, 'cases', name);
    const c: CorpusCase = { name, dir, oracle: 'docker', args: [], secrets: [] };
    const line = readFileSync(join(dir, 'Dockerfile'), 'utf8').split('\n').find((l) => l.startsWith('# corpus:'));
    let rest = line?.slice('# corpus:'.length).trim() ?? '';
    while (rest) {
      const m = /^(\w+)=(\S*)\s*/.exec(rest);
      if (!m) throw new Error(`corpus ${name}: cannot read "${rest}"`);
      const [, k, v] = m as unknown as [string, string, string];
      if (k === 'note') { c.note = rest.slice(5); break; }
      rest = rest.slice(m[0].length);
      if (k === 'oracle') c.oracle = v as CorpusCase['oracle'];
      else if (k === 'arg') c.args.push(v);
      else if (k === 'target') c.target = v;
      else if (k === 'secret') c.secrets.push(v.replace(/src=([^,]+)/, (_s, p: string) => `src=${join(dir, p)}`));
      else throw new Error(`corpus ${name}: unknown key ${k}`);
    }
    out.push(c);
  }
  return out;
}

/** Build flags for a case (the same for berth, docker and podman). */
export function buildFlags(c: CorpusCase): string[] {
  const f: string[] = [];
  for (const a of c.args) f.push('--build-arg', a);
  if (c.target) f.push('--target', c.target);
  for (const s of c.secrets) f.push('--secret', s);
  return f;
}

export function readExpected(name: string, root = CORPUS): Expected | undefined {
  try { return JSON.parse(readFileSync(join(root, 'expected', `${name}.json`), 'utf8')) as Expected; } catch { return undefined; }
}

const CONFIG_KEYS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'Labels', 'OnBuild', 'Shell'];

/** The config fields the issue compares, empty ones left out (docker writes null, podman [] or ""). */
export function configFields(cfg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) {
    const v = cfg[k];
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v) && !v.length) continue;
    if (typeof v === 'object' && !Array.isArray(v) && !Object.keys(v as object).length) continue;
    out[k] = v;
  }
  return out;
}

export interface SavedImage { tags: string[]; config: Record<string, unknown>; layers: string[][] }

/** Every image of a docker-archive (`save`), its layers as listings and its config. */
export async function savedImages(archive: Buffer): Promise<SavedImage[]> {
  const files = await untar(archive);
  const manifest = JSON.parse(files.get('manifest.json')!.data.toString()) as Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }>;
  const memo = new Map<string, string[]>();
  const out: SavedImage[] = [];
  for (const m of manifest) {
    const layers: string[][] = [];
    for (const l of m.Layers) {
      if (!memo.has(l)) memo.set(l, await listing(files.get(l)!.data));
      layers.push(memo.get(l)!);
    }
    const cfg = JSON.parse(files.get(m.Config)!.data.toString()) as { config?: Record<string, unknown> };
    out.push({ tags: m.RepoTags ?? [], config: configFields(cfg.config ?? {}), layers });
  }
  return out;
}

/** The layers above the base: those that are not the busybox layer (`base`). */
export function above(layers: string[][], base: string[]): string[][] {
  const key = JSON.stringify(base);
  return layers.filter((l) => JSON.stringify(l) !== key);
}
