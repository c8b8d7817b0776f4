/** Shared helpers for the OCI tests. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (nearest ancestor holding package.json and scripts/gen-oci.mjs). */
export function repo(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'scripts', 'gen-oci.mjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('test/oci: repository root not found');
    dir = up;
  }
  return dir;
}

export function readJson(rel: string): any {
  return JSON.parse(readFileSync(join(repo(), rel), 'utf8'));
}

interface AjvLike {
  getSchema(id: string): ((data: unknown) => boolean) | undefined;
}

interface GenModule {
  ajvFor(folder: string, base: string): AjvLike;
  RUNTIME_BASE: string;
  IMAGE_BASE: string;
}

/** ajv validators for the same (converted) schemas the generator uses: an independent reference. */
export async function ajvValidators(): Promise<{ runtime: (root: string) => (d: unknown) => boolean; image: (root: string) => (d: unknown) => boolean }> {
  const gen = (await import(pathToFileURL(join(repo(), 'scripts', 'gen-oci.mjs')).href)) as GenModule;
  const rt = gen.ajvFor('runtime-spec-v1.3.0', gen.RUNTIME_BASE);
  const im = gen.ajvFor('image-spec-v1.1.1', gen.IMAGE_BASE);
  const get = (ajv: AjvLike, base: string) => (file: string) => {
    const v = ajv.getSchema(base + file);
    if (!v) throw new Error(`ajv: no schema ${file}`);
    return v;
  };
  return { runtime: get(rt, gen.RUNTIME_BASE), image: get(im, gen.IMAGE_BASE) };
}

/** Every variant of `doc` with one leaf or container replaced by a value of another JSON type. */
export function* mutations(doc: unknown): Generator<{ path: (string | number)[]; doc: unknown }> {
  const wrong = (v: unknown): unknown[] => {
    if (typeof v === 'string') return [5, null];
    if (typeof v === 'number') return ['x', -1, 1.5, 1e20];
    if (typeof v === 'boolean') return ['true'];
    if (Array.isArray(v)) return [{}, 'x', []];
    if (v && typeof v === 'object') return [[], 'x', {}];
    return ['x'];
  };
  function* walk(v: unknown, path: (string | number)[]): Generator<(string | number)[]> {
    yield path;
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* walk(v[i], [...path, i]);
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) yield* walk((v as Record<string, unknown>)[k], [...path, k]);
  }
  for (const path of walk(doc, [])) {
    if (path.length === 0) continue;
    const get = (d: any) => path.reduce((a, k) => a[k], d);
    for (const w of wrong(get(doc))) {
      const copy = structuredClone(doc) as any;
      const parent = path.slice(0, -1).reduce((a, k) => a[k], copy);
      parent[path[path.length - 1]] = w;
      yield { path, doc: copy };
    }
    // and with the member removed (required-ness)
    const copy = structuredClone(doc) as any;
    const parent = path.slice(0, -1).reduce((a, k) => a[k], copy);
    if (Array.isArray(parent)) parent.splice(path[path.length - 1] as number, 1);
    else delete parent[path[path.length - 1]];
    yield { path, doc: copy };
  }
}
