/**
 * How JS values stand for Go values in templates: undefined is Go's invalid value (a missing map
 * key, printed `<no value>`), null is nil, integral numbers are ints and others float64, arrays are
 * slices, plain objects and Maps are maps (a missing key is no error), and objects tagged with
 * `goStruct` (or class instances) are structs: a missing field is an error, as in Go, and a
 * function property is a method (called, with arguments: `{{.Label "k"}}`).
 */

export const GO_TYPE = Symbol.for('berth.template.goType');

/** Mark `obj` as a Go struct of type `typeName` (e.g. `*formatter.ContainerContext`); returns it. */
export function goStruct<T extends object>(obj: T, typeName: string): T {
  Object.defineProperty(obj, GO_TYPE, { value: typeName, enumerable: false, configurable: true });
  return obj;
}

/** A float64 that holds an integral value (a template's `1.0`, `1e6`): printed as Go prints floats. */
export class Float64 {
  constructor(readonly value: number) {}
  valueOf(): number { return this.value; }
  toJSON(): number { return this.value; }
}

export type Kind = 'invalid' | 'nil' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map' | 'struct' | 'func';

export function kindOf(v: unknown): Kind {
  if (v === undefined) return 'invalid';
  if (v === null) return 'nil';
  switch (typeof v) {
    case 'boolean': return 'bool';
    case 'number': return Number.isInteger(v) ? 'int' : 'float';
    case 'bigint': return 'int';
    case 'string': return 'string';
    case 'function': return 'func';
    case 'object': {
      if (v instanceof Float64) return 'float';
      if (Array.isArray(v) || ArrayBuffer.isView(v)) return 'slice';
      if (v instanceof Map) return 'map';
      if (GO_TYPE in v) return 'struct';
      const proto = Object.getPrototypeOf(v);
      return proto === Object.prototype || proto === null ? 'map' : 'struct';
    }
    default: return 'string';
  }
}

/** Map entries of a map value, keys sorted as Go's fmt and range sort them. */
export function mapEntries(v: object): [unknown, unknown][] {
  const entries: [unknown, unknown][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return entries.sort(([a], [b]) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    const x = String(a), y = String(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** A struct's fields (own enumerable properties; methods are not fields). */
export function structFields(v: object): [string, unknown][] {
  return Object.entries(v).filter(([, x]) => typeof x !== 'function');
}

/** The Go type name of a value, for messages (`string`, `int`, `map[string]interface {}`, …). */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid': case 'nil': return 'interface {}';
    case 'bool': return 'bool';
    case 'int': return 'int';
    case 'float': return 'float64';
    case 'string': return 'string';
    case 'func': return 'func';
    case 'slice': {
      const a = v as unknown[];
      return a.length && a.every((x) => typeof x === 'string') ? '[]string' : '[]interface {}';
    }
    case 'map': {
      const vals = mapEntries(v as object).map(([, x]) => x);
      return vals.length && vals.every((x) => typeof x === 'string') ? 'map[string]string' : 'map[string]interface {}';
    }
    case 'struct': {
      const o = v as Record<symbol, unknown>;
      return typeof o[GO_TYPE] === 'string' ? (o[GO_TYPE] as string) : (Object.getPrototypeOf(v)?.constructor?.name ?? 'struct');
    }
  }
}

/** Go's truth: false, 0, nil, empty string/slice/map and the invalid value are false. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid': case 'nil': return false;
    case 'bool': return v as boolean;
    case 'int': case 'float': return Number(v) !== 0 && !Number.isNaN(Number(v));
    case 'string': return (v as string).length > 0;
    case 'slice': return (v as unknown[]).length > 0;
    case 'map': return v instanceof Map ? v.size > 0 : Object.keys(v as object).length > 0;
    default: return true;
  }
}
