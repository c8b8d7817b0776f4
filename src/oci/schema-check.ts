/**
 * A small JSON Schema interpreter for the ref-resolved schema tables that scripts/gen-oci.mjs
 * generates from the OCI schemas (src/oci/generated/*-schemas.ts). It implements exactly the
 * keywords the generator lets through (draft-07 semantics; `$ref` siblings are applied, as ajv 8
 * does) and reports problems as `path: message` with paths like `mounts[0].destination`.
 * The generator compiles the same schemas with ajv; test/oci/schema-check.test.ts compares both.
 */

export type SchemaNode = boolean | { [keyword: string]: unknown };

export interface SchemaTable {
  nodes: SchemaNode[];
  roots: Record<string, number>;
}

export interface SchemaProblem {
  /** Dotted instance path, e.g. `process.user.uid`, `mounts[1].options`, `annotations["a.b"]`; '' for the document. */
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;
type PathPart = string | number;

const patterns = new Map<string, RegExp>();
function regex(p: string): RegExp {
  let r = patterns.get(p);
  if (!r) patterns.set(p, (r = new RegExp(p, 'u')));
  return r;
}

const FORMATS: Record<string, RegExp> = {
  // RFC 3339 date-time (as JSON Schema's "date-time").
  'date-time': /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
  // An absolute URI: scheme ":" and no white space.
  uri: /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/,
};

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function formatPath(parts: readonly PathPart[]): string {
  let s = '';
  for (const p of parts) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (IDENT.test(p)) s += s ? `.${p}` : p;
    else s += `[${JSON.stringify(p)}]`;
  }
  return s;
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeMatches(t: string, d: unknown): boolean {
  switch (t) {
    case 'object': return isObject(d);
    case 'array': return Array.isArray(d);
    case 'string': return typeof d === 'string';
    case 'boolean': return typeof d === 'boolean';
    case 'null': return d === null;
    case 'number': return typeof d === 'number' && Number.isFinite(d);
    case 'integer': return typeof d === 'number' && Number.isInteger(d);
    default: return false;
  }
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function ucs2length(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

class Checker {
  readonly problems: SchemaProblem[] = [];
  readonly path: PathPart[];

  constructor(private readonly nodes: SchemaNode[], private readonly max: number, path: PathPart[] = []) {
    this.path = path;
  }

  private add(message: string, extra?: PathPart): void {
    if (this.problems.length >= this.max) return;
    const parts = extra === undefined ? this.path : [...this.path, extra];
    this.problems.push({ path: formatPath(parts), message });
  }

  private child(s: SchemaNode, d: unknown, key: PathPart): void {
    this.path.push(key);
    this.check(s, d);
    this.path.pop();
  }

  check(s: SchemaNode, d: unknown): void {
    if (s === true) return;
    if (s === false) return this.add('is not allowed');
    if (this.problems.length >= this.max) return;
    if (typeof s.$ref === 'number') this.check(this.nodes[s.$ref] as SchemaNode, d);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => typeMatches(t, d))) return this.add(`must be ${types.join(' or ')}`);
    }
    if (Array.isArray(s.enum) && !s.enum.some((v) => equal(v, d))) {
      this.add(`must be one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`);
    }
    if ('const' in s && !equal(s.const, d)) this.add(`must be ${JSON.stringify(s.const)}`);
    if (typeof d === 'number') this.number(s, d);
    else if (typeof d === 'string') this.string(s, d);
    else if (Array.isArray(d)) this.array(s, d);
    else if (isObject(d)) this.object(s, d);
    if (Array.isArray(s.allOf)) for (const c of s.allOf as SchemaNode[]) this.check(c, d);
    if (Array.isArray(s.anyOf)) this.anyOf(s.anyOf as SchemaNode[], d);
    if (Array.isArray(s.oneOf)) this.oneOf(s.oneOf as SchemaNode[], d);
    if (s.not !== undefined && this.branch(s.not as SchemaNode, d).length === 0) this.add('must not match the "not" schema');
  }

  private number(s: Obj, d: number): void {
    if (typeof s.minimum === 'number' && d < s.minimum) this.add(`must be >= ${s.minimum}`);
    if (typeof s.maximum === 'number' && d > s.maximum) this.add(`must be <= ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && d <= s.exclusiveMinimum) this.add(`must be > ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && d >= s.exclusiveMaximum) this.add(`must be < ${s.exclusiveMaximum}`);
  }

  private string(s: Obj, d: string): void {
    if (typeof s.pattern === 'string' && !regex(s.pattern).test(d)) this.add(`must match pattern ${JSON.stringify(s.pattern)}`);
    if (typeof s.minLength === 'number' && ucs2length(d) < s.minLength) this.add(`must have at least ${s.minLength} characters`);
    if (typeof s.maxLength === 'number' && ucs2length(d) > s.maxLength) this.add(`must have at most ${s.maxLength} characters`);
    if (typeof s.format === 'string' && FORMATS[s.format] && !FORMATS[s.format].test(d)) this.add(`must be a valid ${s.format}`);
  }

  private array(s: Obj, d: unknown[]): void {
    if (typeof s.minItems === 'number' && d.length < s.minItems) this.add(`must have at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`);
    if (typeof s.maxItems === 'number' && d.length > s.maxItems) this.add(`must have at most ${s.maxItems} items`);
    if (Array.isArray(s.items)) {
      const tuple = s.items as SchemaNode[];
      for (let i = 0; i < tuple.length && i < d.length; i++) this.child(tuple[i], d[i], i);
    } else if (s.items !== undefined) {
      for (let i = 0; i < d.length; i++) this.child(s.items as SchemaNode, d[i], i);
    }
  }

  private object(s: Obj, d: Obj): void {
    if (Array.isArray(s.required)) {
      for (const r of s.required as string[]) if (d[r] === undefined) this.add('is required', r);
    }
    const props = isObject(s.properties) ? (s.properties as Record<string, SchemaNode>) : undefined;
    if (props) for (const k in props) if (d[k] !== undefined) this.child(props[k], d[k], k);
    const pprops = isObject(s.patternProperties) ? Object.entries(s.patternProperties as Record<string, SchemaNode>) : undefined;
    const extra = s.additionalProperties as SchemaNode | undefined;
    if (!pprops && extra === undefined) return;
    for (const k of Object.keys(d)) {
      let matched = props !== undefined && Object.hasOwn(props, k);
      if (pprops) {
        for (const [p, c] of pprops) if (regex(p).test(k)) { matched = true; this.child(c, d[k], k); }
      }
      if (!matched && extra !== undefined) {
        if (extra === false) this.add('is not an allowed property', k);
        else this.child(extra, d[k], k);
      }
    }
  }

  private branch(s: SchemaNode, d: unknown): SchemaProblem[] {
    const c = new Checker(this.nodes, this.max, [...this.path]);
    c.check(s, d);
    return c.problems;
  }

  private anyOf(branches: SchemaNode[], d: unknown): void {
    const results: SchemaProblem[][] = [];
    for (const b of branches) {
      const r = this.branch(b, d);
      if (r.length === 0) return;
      results.push(r);
    }
    this.reportBranches(results, 'must match a schema in anyOf');
  }

  private oneOf(branches: SchemaNode[], d: unknown): void {
    const results: SchemaProblem[][] = [];
    let passing = 0;
    for (const b of branches) {
      const r = this.branch(b, d);
      if (r.length === 0) passing++;
      results.push(r);
    }
    if (passing === 1) return;
    if (passing > 1) return this.add('must match exactly one schema in oneOf');
    this.reportBranches(results, 'must match exactly one schema in oneOf');
  }

  /** No branch matched: if every branch failed on the type of this very value, say which types are
   *  allowed; otherwise report the problems of the branch that came closest. */
  private reportBranches(results: SchemaProblem[][], fallback: string): void {
    const here = formatPath(this.path);
    const types: string[] = [];
    for (const r of results) {
      const m = r.length === 1 && r[0].path === here ? /^must be ([a-z]+(?: or [a-z]+)*)$/.exec(r[0].message) : null;
      if (!m) { types.length = 0; break; }
      types.push(m[1]);
    }
    if (types.length) return this.add(`must be ${types.join(' or ')}`);
    const best = results.reduce((a, b) => (b.length < a.length ? b : a), results[0]);
    if (!best || best.length === 0) return this.add(fallback);
    for (const p of best) if (this.problems.length < this.max) this.problems.push(p);
  }
}

/** Check `data` against the schema `root` of `table`; returns at most `max` problems (none = valid). */
export function checkSchema(table: SchemaTable, root: string, data: unknown, max = 20): SchemaProblem[] {
  const idx = table.roots[root];
  if (idx === undefined) throw new Error(`schema table has no root "${root}"`);
  const c = new Checker(table.nodes, max);
  c.check(table.nodes[idx], data);
  return c.problems;
}
