/**
 * Validation of image-spec v1.1.1 documents: the JSON schemas (generated tables) plus checks the
 * schemas leave out (registered digest algorithms' encodings, sizes >= 0, the document's own
 * mediaType). Docker schema 2 manifests and manifest lists are accepted where the OCI form is.
 * `name` (a digest or reference) is put in the error message and BerthError.path.
 */
import { IMAGE_SCHEMAS_JSON } from './generated/image-schemas.js';
import { DockerMediaType, MediaType, type Descriptor, type ImageConfig, type ImageLayout, type Index, type Manifest } from './image-types.js';
import { checkSchema, formatPath, type SchemaProblem, type SchemaTable } from './schema-check.js';
import { throwProblems } from './validate.js';

let parsed: SchemaTable | undefined;
/** The image-spec schema table, parsed on first use. */
export function imageSchemas(): SchemaTable {
  return (parsed ??= JSON.parse(IMAGE_SCHEMAS_JSON) as SchemaTable);
}
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Registered algorithms (image-spec descriptor.md) and the exact form of their encoded part. */
const DIGEST_ENCODINGS: Readonly<Record<string, RegExp>> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

/** Problem with a digest string, or undefined when it is well-formed (unregistered algorithms pass the schema only). */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon < 0) return 'must be <algorithm>:<encoded>';
  const re = DIGEST_ENCODINGS[digest.slice(0, colon)];
  if (re && !re.test(digest.slice(colon + 1))) return `is not a valid ${digest.slice(0, colon)} digest`;
  return undefined;
}

function descriptorProblems(d: unknown, path: (string | number)[], out: SchemaProblem[]): void {
  if (!isObj(d)) return;
  if (typeof d.digest === 'string') {
    const p = digestProblem(d.digest);
    if (p) out.push({ path: formatPath([...path, 'digest']), message: p });
  }
  if (typeof d.size === 'number' && d.size < 0) out.push({ path: formatPath([...path, 'size']), message: 'must be >= 0' });
}

function mediaTypeProblem(doc: Obj, allowed: string[], out: SchemaProblem[]): void {
  if (doc.mediaType !== undefined && typeof doc.mediaType === 'string' && !allowed.includes(doc.mediaType)) {
    out.push({ path: 'mediaType', message: `must be ${allowed.join(' or ')}` });
  }
}

/** Schema problems, then the extra checks' problems on paths the schema found nothing wrong with. */
function check(root: string, doc: unknown, extra: (d: Obj, out: SchemaProblem[]) => void): SchemaProblem[] {
  const out = checkSchema(imageSchemas(), root, doc);
  const more: SchemaProblem[] = [];
  if (isObj(doc)) extra(doc, more);
  const bad = new Set(out.map((p) => p.path));
  return [...out, ...more.filter((p) => !bad.has(p.path))];
}

export function imageManifestProblems(doc: unknown): SchemaProblem[] {
  return check('manifest', doc, (d, out) => {
    mediaTypeProblem(d, [MediaType.ImageManifest, DockerMediaType.Manifest], out);
    descriptorProblems(d.config, ['config'], out);
    if (Array.isArray(d.layers)) d.layers.forEach((l, i) => descriptorProblems(l, ['layers', i], out));
    descriptorProblems(d.subject, ['subject'], out);
  });
}

export function imageIndexProblems(doc: unknown): SchemaProblem[] {
  return check('index', doc, (d, out) => {
    mediaTypeProblem(d, [MediaType.ImageIndex, DockerMediaType.ManifestList], out);
    if (Array.isArray(d.manifests)) d.manifests.forEach((m, i) => descriptorProblems(m, ['manifests', i], out));
    descriptorProblems(d.subject, ['subject'], out);
  });
}

export function imageConfigProblems(doc: unknown): SchemaProblem[] {
  return check('config', doc, (d, out) => {
    const rootfs = d.rootfs;
    if (isObj(rootfs) && Array.isArray(rootfs.diff_ids)) {
      rootfs.diff_ids.forEach((id, i) => {
        const p = typeof id === 'string' ? digestProblem(id) : undefined;
        if (p) out.push({ path: formatPath(['rootfs', 'diff_ids', i]), message: p });
      });
    }
  });
}

export function validateImageManifest(doc: unknown, name?: string): asserts doc is Manifest {
  throwProblems('validate image manifest', imageManifestProblems(doc), name);
}

export function validateImageIndex(doc: unknown, name?: string): asserts doc is Index {
  throwProblems('validate image index', imageIndexProblems(doc), name);
}

export function validateImageConfig(doc: unknown, name?: string): asserts doc is ImageConfig {
  throwProblems('validate image config', imageConfigProblems(doc), name);
}

export function validateImageLayout(doc: unknown, name?: string): asserts doc is ImageLayout {
  throwProblems('validate oci-layout', checkSchema(imageSchemas(), 'layout', doc), name);
}

export function validateDescriptor(doc: unknown, name?: string): asserts doc is Descriptor {
  throwProblems('validate descriptor', check('descriptor', doc, (d, out) => descriptorProblems(d, [], out)), name);
}
