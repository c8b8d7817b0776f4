#!/usr/bin/env node
// Generates src/oci/generated/*.ts from the reference data in src/oci/data/ (run by scripts/build.mjs
// before tsc; the output is committed so a plain `tsc` also works):
//  - runtime-schemas.ts: runtime-spec v1.3.0 config / state / features schemas as a compact table
//  - image-schemas.ts:   image-spec v1.1.1 manifest / index / config / layout / descriptor schemas
//  - docker-seccomp.ts:  moby's default seccomp profile
//
// The schemas are JSON Schema draft-04. Each file is rewritten to its draft-07 equivalent (id -> $id,
// boolean exclusiveMinimum/Maximum -> numbers, the malformed "#definitions/..." ref fixed), then ajv 8
// compiles every root schema: that proves the conversion is well-formed and every $ref resolves.
// What is emitted is not ajv's standalone code (measured: 165-265 KB, 5-8 ms to import on the target
// machine, too slow for berth-runtime's start-up) but the ref-resolved schema nodes, interpreted at run
// time by src/oci/schema-check.ts (a few KB). test/oci/schema-check.test.ts checks that interpreter
// against ajv on the same schemas.
import { mkdirSync, readdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const dataDir = join(root, 'src/oci/data');
const outDir = join(root, 'src/oci/generated');

// Keywords whose value is a schema, a map of schemas, or an array of schemas.
const SCHEMA_KW = new Set(['not', 'additionalProperties', 'items']);
const MAP_KW = new Set(['properties', 'patternProperties', 'definitions']);
const ARRAY_KW = new Set(['allOf', 'anyOf', 'oneOf']);
// Keywords the run-time interpreter implements; anything else in a schema is an error here.
const CHECKED = new Set(['type', 'properties', 'required', 'items', 'minItems', 'maxItems', 'enum', 'const', 'pattern',
  'patternProperties', 'additionalProperties', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'minLength', 'maxLength', 'anyOf', 'oneOf', 'allOf', 'not', 'format', '$ref']);
const ANNOTATIONS = new Set(['description', 'title', 'id', '$id', '$schema', 'media', 'definitions', 'default']);
const FORMATS = ['date-time', 'uri'];

/** Rewrite one draft-04 schema node (in place) to draft-07. Top-level non-keyword members (e.g. the
 *  {"linux": {...}} container of config-linux.json) are schemas reached by JSON pointer. */
function toDraft07(node, isRoot) {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return;
  delete node.$schema;
  delete node.id;
  delete node.media;
  if (typeof node.$ref === 'string') node.$ref = node.$ref.replace(/#definitions\//, '#/definitions/');
  for (const kw of ['Minimum', 'Maximum']) {
    const ex = 'exclusive' + kw, lim = kw.toLowerCase();
    if (node[ex] === true) { node[ex] = node[lim]; delete node[lim]; } else if (node[ex] === false) delete node[ex];
  }
  for (const [k, v] of Object.entries(node)) {
    if (MAP_KW.has(k) && v && typeof v === 'object') for (const s of Object.values(v)) toDraft07(s, false);
    else if (ARRAY_KW.has(k) && Array.isArray(v)) for (const s of v) toDraft07(s, false);
    else if (SCHEMA_KW.has(k)) for (const c of Array.isArray(v) ? v : [v]) toDraft07(c, false); // tuple "items" too
    else if (isRoot && !CHECKED.has(k) && !ANNOTATIONS.has(k) && v && typeof v === 'object' && !Array.isArray(v)) toDraft07(v, false);
  }
}

export function loadFolder(folder) {
  const dir = join(dataDir, folder, 'schema');
  const files = new Map();
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue;
    const s = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    toDraft07(s, true);
    files.set(f, s);
  }
  return files;
}

/** An ajv 8 instance holding every (converted) schema file of `folder`, keyed `base + file name`. */
export function ajvFor(folder, base, formats) {
  const Ajv = require('ajv').default;
  const ajv = new Ajv({ strict: false, allErrors: true, formats: formats ?? Object.fromEntries(FORMATS.map((f) => [f, true])) });
  for (const [f, s] of loadFolder(folder)) ajv.addSchema({ ...s, $id: base + f });
  return ajv;
}

/** Compile every root with ajv (draft-07 mode) so a broken conversion or ref fails the build. */
function ajvCheck(folder, base, roots) {
  const ajv = ajvFor(folder, base);
  for (const f of Object.values(roots)) ajv.getSchema(base + f) ?? fail(`ajv could not compile ${f}`);
}

function fail(msg) { throw new Error('gen-oci: ' + msg); }

function pointer(doc, ptr, where) {
  let node = doc;
  for (const raw of ptr.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!node || typeof node !== 'object' || !(key in node)) fail(`unresolvable $ref ${where}`);
    node = node[key];
  }
  return node;
}

/** Flatten the schemas reachable from `roots` into a node table: every $ref target gets an index and
 *  `$ref` becomes that number; annotations are dropped; unknown keywords are rejected. */
function buildTable(files, roots) {
  const nodes = [];
  const index = new Map(); // "file#pointer" -> index
  function ref(file, target) {
    const [f, ptr = ''] = target.split('#');
    const file2 = f || file;
    const key = `${file2}#${ptr}`;
    if (index.has(key)) return index.get(key);
    const doc = files.get(file2) ?? fail(`$ref to unknown file ${target} in ${file}`);
    const i = nodes.length;
    index.set(key, i);
    nodes.push(null);
    nodes[i] = convert(file2, pointer(doc, ptr, `${target} in ${file}`));
    return i;
  }
  function convert(file, s) {
    if (typeof s === 'boolean') return s;
    const out = {};
    for (const [k, v] of Object.entries(s)) {
      if (ANNOTATIONS.has(k)) continue;
      if (!CHECKED.has(k)) fail(`keyword "${k}" in ${file} is not supported by src/oci/schema-check.ts`);
      if (k === '$ref') out.$ref = ref(file, v);
      else if (k === 'properties' || k === 'patternProperties') out[k] = Object.fromEntries(Object.entries(v).map(([n, c]) => [n, convert(file, c)]));
      else if (ARRAY_KW.has(k) || (k === 'items' && Array.isArray(v))) out[k] = v.map((c) => convert(file, c));
      else if (SCHEMA_KW.has(k) && typeof v === 'object') out[k] = convert(file, v);
      else if (k === 'format' && !FORMATS.includes(v)) fail(`format "${v}" in ${file} is not supported`);
      else out[k] = v;
    }
    return out;
  }
  const rootIdx = {};
  for (const [name, f] of Object.entries(roots)) rootIdx[name] = ref(f, f);
  return { nodes, roots: rootIdx };
}

/** A single-quoted JS string literal (JSON text needs fewer escapes this way). */
function jsString(text) {
  return "'" + text.replace(/[\\']/g, (c) => '\\' + c).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029') + "'";
}

function writeAtomic(path, text) {
  try { if (readFileSync(path, 'utf8') === text) return; } catch { /* missing */ }
  writeFileSync(path + '.tmp', text);
  renameSync(path + '.tmp', path);
}

function emitSchemas(folder, base, roots, outFile, constName, title) {
  const files = loadFolder(folder);
  ajvCheck(folder, base, roots);
  const table = buildTable(files, roots);
  const json = JSON.stringify(table);
  // A string literal costs far less at import than the equivalent object literal; the consumer
  // JSON.parses it on first use.
  writeAtomic(join(outDir, outFile),
    `// @ts-nocheck\n// GENERATED by scripts/gen-oci.mjs from src/oci/data/${folder}/schema (${title}). Do not edit.\n` +
    `export const ${constName} = ${jsString(json)};\n`);
  return json.length;
}

export const RUNTIME_BASE = 'https://berth.invalid/runtime-spec/';
export const IMAGE_BASE = 'https://berth.invalid/image-spec/';

function main() {
  mkdirSync(outDir, { recursive: true });
  const sizes = {};
  sizes.runtime = emitSchemas('runtime-spec-v1.3.0', RUNTIME_BASE,
    { config: 'config-schema.json', state: 'state-schema.json', features: 'features-schema.json' },
    'runtime-schemas.ts', 'RUNTIME_SCHEMAS_JSON', 'OCI runtime-spec v1.3.0, Apache-2.0');
  sizes.image = emitSchemas('image-spec-v1.1.1', IMAGE_BASE,
    { manifest: 'image-manifest-schema.json', index: 'image-index-schema.json', config: 'config-schema.json',
      layout: 'image-layout-schema.json', descriptor: 'content-descriptor.json' },
    'image-schemas.ts', 'IMAGE_SCHEMAS_JSON', 'OCI image-spec v1.1.1, Apache-2.0');

  const profile = JSON.parse(readFileSync(join(dataDir, 'moby-docker-v29.7.2/seccomp-default.json'), 'utf8'));
  writeAtomic(join(outDir, 'docker-seccomp.ts'),
    '// @ts-nocheck\n// GENERATED by scripts/gen-oci.mjs from src/oci/data/moby-docker-v29.7.2/seccomp-default.json\n' +
    '// (moby/profiles seccomp v0.2.3 as vendored by moby docker-v29.7.2, Apache-2.0). Do not edit.\n' +
    `export const DOCKER_SECCOMP_PROFILE_JSON = ${jsString(JSON.stringify(profile))};\n`);

  if (process.argv.includes('-v')) console.log(`gen-oci: runtime schema table ${sizes.runtime} bytes, image schema table ${sizes.image} bytes`);
}

// Importable (tests reuse loadFolder/ajvFor); generates only when run as a script.
if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
