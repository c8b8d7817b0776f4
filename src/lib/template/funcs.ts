/**
 * The functions templates can call: Go's builtins (and, or, not, len, index, slice, print*,
 * comparisons, html, js, urlquery, call) and the docker CLI's (json, split, join, title, lower,
 * upper, pad, truncate), with its header variants for `table` headers.
 */
import { formatValue, sprint, sprintf, sprintln } from './fmt.js';
import { isTrue, kindOf, typeName } from './values.js';

/** Parameter types: checked and converted before a call, as Go's reflection does. */
export type Param = 'any' | 'string' | 'int' | 'strings';

export interface TemplateFunc {
  params: Param[];
  variadic?: Param;
  fn: (...args: any[]) => unknown;
}

export type FuncMap = Record<string, TemplateFunc>;

const f = (params: Param[], fn: TemplateFunc['fn'], variadic?: Param): TemplateFunc => ({ params, fn, variadic });

function length(v: unknown): number {
  switch (kindOf(v)) {
    case 'string': return Buffer.byteLength(v as string);
    case 'slice': return (v as unknown[]).length;
    case 'map': return v instanceof Map ? v.size : Object.keys(v as object).length;
    case 'nil': case 'invalid': throw new Error('len of nil pointer');
    default: throw new Error(`len of type ${typeName(v)}`);
  }
}

function intIndex(x: unknown, cap: number, what = 'index'): number {
  if (typeof x !== 'number' || !Number.isInteger(x)) {
    throw new Error(x === null || x === undefined ? `cannot ${what} slice/array with nil` : `cannot ${what} slice/array with type ${typeName(x)}`);
  }
  if (x < 0 || x > cap) throw new Error(`index out of range: ${x}`);
  return x;
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    switch (kindOf(v)) {
      case 'nil': case 'invalid': throw new Error('index of untyped nil');
      case 'string': { const b = Buffer.from(v as string); v = b[intIndex(k, b.length - 1)]; break; }
      case 'slice': { const a = v as unknown[]; v = a[intIndex(k, a.length - 1)]; break; }
      case 'map': {
        if (v instanceof Map) { v = v.get(k); break; }
        if (typeof k !== 'string') throw new Error(`value has type ${typeName(k)}; should be string`);
        const o = v as Record<string, unknown>;
        // a missing key gives the element type's zero value: "" for string maps (labels, options)
        v = Object.prototype.hasOwnProperty.call(o, k) ? o[k] : Object.values(o).every((x) => typeof x === 'string') ? '' : undefined;
        break;
      }
      default: throw new Error(`can't index item of type ${typeName(v)}`);
    }
  }
  return v;
}

function slice(item: unknown, ...idx: unknown[]): unknown {
  const k = kindOf(item);
  if (k === 'nil' || k === 'invalid') throw new Error('slice of untyped nil');
  if (idx.length > 3) throw new Error(`too many slice indexes: ${idx.length}`);
  if (k !== 'string' && k !== 'slice') throw new Error(`can't slice item of type ${typeName(item)}`);
  if (k === 'string' && idx.length === 3) throw new Error('cannot 3-index slice a string');
  const len = k === 'string' ? Buffer.byteLength(item as string) : (item as unknown[]).length;
  const ix = [0, len, len];
  idx.forEach((x, i) => { ix[i] = intIndex(x, len, 'slice'); });
  if (ix[0]! > ix[1]!) throw new Error(`invalid slice index: ${ix[0]} > ${ix[1]}`);
  if (idx.length === 3 && ix[1]! > ix[2]!) throw new Error(`invalid slice index: ${ix[1]} > ${ix[2]}`);
  return k === 'string' ? Buffer.from(item as string).subarray(ix[0], ix[1]).toString() : (item as unknown[]).slice(ix[0], ix[1]);
}

type Basic = 'bool' | 'num' | 'string' | 'invalid' | 'other';
const basic = (v: unknown): Basic => {
  const k = kindOf(v);
  return k === 'int' || k === 'float' ? 'num' : k === 'bool' || k === 'string' ? k : k === 'nil' || k === 'invalid' ? 'invalid' : 'other';
};

function eq(a: unknown, ...bs: unknown[]): boolean {
  if (bs.length === 0) throw new Error('missing argument for comparison');
  const ka = basic(a);
  for (const b of bs) {
    const kb = basic(b);
    if (ka === 'invalid' || kb === 'invalid') { if (ka === kb) return true; continue; }
    if (ka !== kb) throw new Error('incompatible types for comparison');
    if (ka === 'other') {
      const k = kindOf(a);
      if (k !== 'struct' || kindOf(b) !== 'struct') throw new Error(`non-comparable type ${formatValue(a)}: ${typeName(a)}`);
    }
    if (ka === 'num' ? Number(a) === Number(b) : a === b) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basic(a), kb = basic(b);
  if (ka === 'invalid' || ka === 'bool' || ka === 'other' || kb === 'invalid' || kb === 'bool' || kb === 'other') {
    if (ka !== kb && ka !== 'invalid' && kb !== 'invalid' && ka !== 'other' && kb !== 'other') throw new Error('incompatible types for comparison');
    throw new Error('invalid type for comparison');
  }
  if (ka !== kb) throw new Error('incompatible types for comparison');
  return ka === 'num' ? Number(a) < Number(b) : (a as string) < (b as string);
}

/** Go's evalArgs for html, js, urlquery: one string as is, else Sprint with nil printed as <no value>. */
const evalArgs = (args: unknown[]): string => (args.length === 1 && typeof args[0] === 'string' ? args[0]
  : sprint(args.map((a) => (a === null || a === undefined ? '<no value>' : a))));

export function htmlEscape(s: string): string {
  return s.replace(/[<>&'"\0]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' })[c]!);
}

export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const u = () => '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    if (ch === '\\' || ch === "'" || ch === '"') out += '\\' + ch;
    else if ('<>&='.includes(ch) || c < 0x20) out += u();
    else if (c < 0x80 || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else out += c > 0xffff ? ch : u();
  }
  return out;
}

export function queryEscape(s: string): string {
  return [...Buffer.from(s)].map((b) => {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) return c;
    return b === 0x20 ? '+' : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }).join('');
}

function call(fn: unknown, ...args: unknown[]): unknown {
  if (fn === null || fn === undefined) throw new Error('call of nil');
  if (typeof fn !== 'function') throw new Error(`non-function of type ${typeName(fn)}`);
  if (fn.length !== args.length) throw new Error(`wrong number of args: got ${args.length} want ${fn.length}`);
  return fn(...args);
}

/** Go's builtins. `and`/`or` are evaluated lazily by the executor. */
export const builtins: FuncMap = {
  and: f(['any'], (...a: unknown[]) => a.find((x) => !isTrue(x)) ?? a[a.length - 1], 'any'),
  or: f(['any'], (...a: unknown[]) => a.find((x) => isTrue(x)) ?? a[a.length - 1], 'any'),
  not: f(['any'], (a) => !isTrue(a)),
  len: f(['any'], length),
  index: f(['any'], index, 'any'),
  slice: f(['any'], slice, 'any'),
  print: f([], (...a: unknown[]) => sprint(a), 'any'),
  printf: f(['string'], (fmt: string, ...a: unknown[]) => sprintf(fmt, a), 'any'),
  println: f([], (...a: unknown[]) => sprintln(a), 'any'),
  eq: f(['any'], eq, 'any'),
  ne: f(['any', 'any'], (a, b) => !eq(a, b)),
  lt: f(['any', 'any'], lt),
  le: f(['any', 'any'], (a, b) => lt(a, b) || eq(a, b)),
  gt: f(['any', 'any'], (a, b) => !lt(a, b) && !eq(a, b)),
  ge: f(['any', 'any'], (a, b) => !lt(a, b)),
  html: f([], (...a: unknown[]) => htmlEscape(evalArgs(a)), 'any'),
  js: f([], (...a: unknown[]) => jsEscape(evalArgs(a)), 'any'),
  urlquery: f([], (...a: unknown[]) => queryEscape(evalArgs(a)), 'any'),
  call: f(['any'], call, 'any'),
};

/** Go's encoding/json as the docker CLI's `json` function uses it (no HTML escaping). */
export function goJSON(v: unknown): string {
  const s = JSON.stringify(v, (_k, x) => (x instanceof Map ? Object.fromEntries(x) : typeof x === 'bigint' ? Number(x) : x));
  return (s ?? 'null').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The docker CLI's template functions (cli/templates). */
export const dockerFuncs: FuncMap = {
  json: f(['any'], goJSON),
  split: f(['string', 'string'], (s: string, sep: string) => (sep === '' ? [...s] : s.split(sep))),
  join: f(['strings', 'string'], (a: string[], sep: string) => a.join(sep)),
  title: f(['string'], (s: string) => s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase())),
  lower: f(['string'], (s: string) => s.toLowerCase()),
  upper: f(['string'], (s: string) => s.toUpperCase()),
  pad: f(['string', 'int', 'int'], (s: string, pre: number, post: number) => (s === '' ? s : ' '.repeat(Math.max(0, pre)) + s + ' '.repeat(Math.max(0, post)))),
  truncate: f(['string', 'int'], (s: string, n: number) => ([...s].length < n ? s : [...s].slice(0, Math.max(0, n)).join(''))),
};

/** The docker CLI's functions for rendering a table header: they leave the header text alone. */
export const headerFuncs: FuncMap = {
  json: f(['string'], (s: string) => s),
  split: f(['string', 'string'], (s: string) => s),
  join: f(['string', 'string'], (s: string) => s),
  title: f(['string'], (s: string) => s),
  lower: f(['string'], (s: string) => s),
  upper: f(['string'], (s: string) => s),
  truncate: f(['string', 'int'], (s: string) => s),
};

