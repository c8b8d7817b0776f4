/** Go's fmt for template values: `%v` printing (`[a b]`, `map[k:v]`), Sprint, Sprintln, Sprintf. */
import { kindOf, mapEntries, structFields, typeName } from './values.js';

/** Go's strconv.Quote (ASCII-only when `ascii`). */
export function quote(s: string, ascii = false, q = '"'): string {
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === q || ch === '\\') out += '\\' + ch;
    else if (c < 0x20 || c === 0x7f) {
      const named: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
      out += named[c] ?? '\\x' + c.toString(16).padStart(2, '0');
    } else if (c < 0x7f) out += ch;
    else if (ascii || !/[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) {
      out += c > 0xffff ? '\\U' + c.toString(16).padStart(8, '0') : '\\u' + c.toString(16).padStart(4, '0');
    } else out += ch;
  }
  return out + q;
}

/** Shortest digits of |v| that read back as v (Go's and JS's shortest form): v = d[0].d[1:] × 10^exp. */
function shortestDigits(v: number): { d: string; exp: number } {
  const [m, e] = Math.abs(v).toExponential().split('e');
  return { d: m!.replace('.', ''), exp: Number(e) };
}

/** The exact decimal expansion of a finite a ≥ 0: a = 0.d × 10^point. */
function exactDigits(a: number): { d: string; point: number } {
  if (a === 0) return { d: '0', point: 1 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const bits = view.getBigUint64(0);
  let e = Number((bits >> 52n) & 0x7ffn);
  let m = bits & ((1n << 52n) - 1n);
  if (e === 0) e = 1; else m |= 1n << 52n;
  e -= 1075; // a = m × 2^e
  if (e >= 0) { const s = (m << BigInt(e)).toString(); return { d: s, point: s.length }; }
  const s = (m * 5n ** BigInt(-e)).toString(); // a = s × 10^e
  return { d: s, point: s.length + e };
}

/** Keep n significant digits of 0.d × 10^point, rounding half to even on the exact value, as Go does. */
function roundDigits(a: number, n: number): { d: string; point: number } {
  const { d, point } = exactDigits(a);
  if (n < 0) return { d: '', point };
  if (d.length <= n) return { d, point };
  const keep = d.slice(0, n);
  const first = d[n]!;
  const up = first > '5' || (first === '5' && (/[1-9]/.test(d.slice(n + 1)) || (n > 0 && Number(keep[n - 1]) % 2 === 1)));
  if (!up) return { d: keep, point };
  const inc = (BigInt(keep || '0') + 1n).toString();
  return inc.length > n ? { d: inc.slice(0, Math.max(n, 1)), point: point + 1 } : { d: inc.padStart(n, '0'), point };
}

function fixedFrom(d: string, exp: number, prec = -1): string {
  // d[0] is the 10^exp digit; prec < 0: as many fraction digits as d has
  const point = exp + 1;
  const int = point > 0 ? d.slice(0, point).padEnd(point, '0') : '0';
  let frac = point > 0 ? d.slice(point) : '0'.repeat(-point) + d;
  if (prec >= 0) frac = frac.padEnd(prec, '0').slice(0, prec); else frac = frac.replace(/0+$/, '');
  return frac ? `${int}.${frac}` : int;
}

function expForm(d: string, exp: number, upper: boolean, prec = -1): string {
  const frac = prec >= 0 ? d.slice(1).padEnd(prec, '0').slice(0, prec) : d.slice(1);
  return `${d[0] ?? '0'}${frac ? '.' + frac : ''}${upper ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** Go's %e/%f/%g of a float (no sign handling: |v|); prec -1 is the shortest representation. */
export function formatFloat(v: number, verb: string, prec: number, sharp = false): string {
  const a = Math.abs(v);
  if (!Number.isFinite(a)) return Number.isNaN(a) ? 'NaN' : 'Inf';
  const upper = verb === 'E' || verb === 'G';
  switch (verb.toLowerCase()) {
    case 'e': {
      if (prec < 0) { const { d, exp } = shortestDigits(a); return expForm(d, a === 0 ? 0 : exp, upper); }
      const r = a === 0 ? { d: '0', point: 1 } : roundDigits(a, prec + 1);
      return expForm(r.d, r.point - 1, upper, prec);
    }
    case 'f': {
      if (prec < 0) { const { d, exp } = shortestDigits(a); return fixedFrom(d, exp); }
      const { point } = exactDigits(a);
      const r = a === 0 ? { d: '0', point: 1 } : roundDigits(a, point + prec);
      return fixedFrom(r.d || '0', r.d ? r.point - 1 : 0, prec);
    }
    default: { // g
      const shortest = prec < 0;
      if (prec === 0) prec = 1;
      let d: string, exp: number;
      if (a === 0) { d = '0'; exp = 0; } else if (shortest) ({ d, exp } = shortestDigits(a));
      else { const r = roundDigits(a, prec); d = r.d; exp = r.point - 1; }
      d = d.replace(/(?<=.)0+$/, '');
      let eprec = prec;
      if (eprec > d.length && d.length >= exp + 1) eprec = d.length;
      if (shortest) eprec = 6;
      if (sharp) d = d.padEnd(shortest ? 6 : prec, '0');
      if (exp < -4 || exp >= eprec) return expForm(d, exp, upper);
      return fixedFrom(d, exp, sharp ? Math.max(d.length - exp - 1, 0) : -1);
    }
  }
}

/** `%v` (with `+` for field names, `#` for Go syntax) of a value. */
export function formatValue(v: unknown, plus = false, sharp = false, depth = 0): string {
  if (depth > 100) return '...';
  const k = kindOf(v);
  switch (k) {
    case 'invalid': case 'nil': return '<nil>';
    case 'bool': return String(v);
    case 'int': return String(v);
    case 'float': {
      const n = Number(v);
      return (n < 0 || Object.is(n, -0) ? '-' : '') + formatFloat(n, 'g', -1);
    }
    case 'string': return sharp ? quote(v as string) : (v as string);
    case 'func': return '0x0';
    case 'slice': {
      const a = [...(v as unknown[])].map((x) => formatValue(x, plus, sharp, depth + 1));
      return sharp ? `${typeName(v)}{${a.join(', ')}}` : `[${a.join(' ')}]`;
    }
    case 'map': {
      const e = mapEntries(v as object);
      if (sharp) return `${typeName(v)}{${e.map(([a, b]) => `${formatValue(a, plus, true, depth + 1)}:${formatValue(b, plus, true, depth + 1)}`).join(', ')}}`;
      return `map[${e.map(([a, b]) => `${formatValue(a, plus, false, depth + 1)}:${formatValue(b, plus, false, depth + 1)}`).join(' ')}]`;
    }
    case 'struct': {
      const f = structFields(v as object);
      if (sharp) return `${typeName(v)}{${f.map(([a, b]) => `${a}:${formatValue(b, plus, true, depth + 1)}`).join(', ')}}`;
      return `{${f.map(([a, b]) => (plus ? `${a}:` : '') + formatValue(b, plus, false, depth + 1)).join(' ')}}`;
    }
  }
}

/** fmt.Sprint: operands separated by a space when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

export function sprintln(args: unknown[]): string {
  return args.map((a) => formatValue(a)).join(' ') + '\n';
}

/** Flags of one verb; for %v, Go turns `+` and `#` into plusV (field names) and sharpV (Go syntax). */
interface Spec { minus: boolean; plus: boolean; sharp: boolean; space: boolean; zero: boolean; width: number; prec: number; plusV?: boolean; sharpV?: boolean }

function pad(s: string, f: Spec, numeric = false): string {
  const n = [...s].length;
  if (f.width <= n) return s;
  const fill = f.width - n;
  if (f.minus) return s + ' '.repeat(fill);
  if (f.zero && numeric) {
    const sign = /^[+\- ]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(fill) + s.slice(sign.length);
  }
  return (f.zero && !numeric ? '0' : ' ').repeat(fill) + s;
}

/** Go's bad-verb form: `%!d(string=abc)`, the value printed with %v and the verb's flags. */
function bad(verb: string, v: unknown, f?: Spec): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${f ? fmtOne(v, 'v', f) : formatValue(v)})`;
}

function fmtInt(v: number, verb: string, f: Spec): string {
  const neg = v < 0;
  const a = Math.abs(v);
  let s: string;
  switch (verb) {
    case 'b': s = a.toString(2); break;
    case 'o': case 'O': s = a.toString(8); if (verb === 'O') s = '0o' + s; else if (f.sharp) s = '0' + s; break;
    case 'x': s = a.toString(16); if (f.sharp) s = '0x' + s; break;
    case 'X': s = a.toString(16).toUpperCase(); if (f.sharp) s = '0X' + s; break;
    case 'c': return pad(neg || a > 0x10ffff ? '\uFFFD' : String.fromCodePoint(a), f);
    case 'q': return pad(quote(neg || a > 0x10ffff ? '\uFFFD' : String.fromCodePoint(a), f.plus, "'"), f);
    case 'U': return pad('U+' + (neg ? (2n ** 64n - BigInt(a)).toString(16) : a.toString(16)).toUpperCase().padStart(f.prec > 4 ? f.prec : 4, '0'), f);
    default: s = a.toString(10);
  }
  if (f.prec === 0 && v === 0) s = ''; // Go: %.0d of 0 prints nothing
  if (f.prec >= 0) s = s.padStart(f.prec, '0');
  s = (neg ? '-' : f.plus ? '+' : f.space ? ' ' : '') + s;
  // a precision turns zero padding off (Go)
  return pad(s, f.prec >= 0 ? { ...f, zero: false } : f, true);
}

function fmtFloatVerb(v: number, verb: string, f: Spec): string {
  const prec = verb === 'v' || verb === 'g' || verb === 'G' ? f.prec : f.prec < 0 ? 6 : f.prec;
  const body = formatFloat(v, verb === 'v' ? 'g' : verb, prec, f.sharp && verb !== 'v');
  const sign = v < 0 || Object.is(v, -0) ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  return pad(sign + body, f, Number.isFinite(v));
}

function hexString(s: string, upper: boolean, f: Spec): string {
  const bytes = [...Buffer.from(s, 'utf8')].slice(0, f.prec >= 0 ? f.prec : undefined);
  const h = bytes.map((b) => b.toString(16).padStart(2, '0'));
  const out = f.space ? h.map((x) => (f.sharp ? '0x' : '') + x).join(' ') : (f.sharp ? '0x' : '') + h.join('');
  return upper ? out.toUpperCase() : out;
}

/** One verb applied to one argument. */
function fmtOne(v: unknown, verb: string, f: Spec): string {
  const k = kindOf(v);
  if (verb === 'T') return fmtOne(v === null || v === undefined ? '<nil>' : typeName(v), 's', f);
  if (verb === 'v' && (k === 'slice' || k === 'map' || k === 'struct')) {
    if (f.sharpV || k !== 'slice') return pad(formatValue(v, f.plusV, f.sharpV), f);
  }
  if (k === 'slice') return `[${[...(v as unknown[])].map((x) => fmtOne(x, verb, f)).join(' ')}]`;
  if (k === 'map' || k === 'struct') {
    if (k === 'map') return `map[${mapEntries(v as object).map(([a, b]) => `${fmtOne(a, verb, f)}:${fmtOne(b, verb, f)}`).join(' ')}]`;
    return `{${structFields(v as object).map(([a, b]) => (f.plusV ? `${a}:` : '') + fmtOne(b, verb, f)).join(' ')}}`;
  }
  switch (k) {
    case 'invalid': case 'nil': return verb === 'v' ? pad('<nil>', f) : bad(verb, v, f);
    case 'bool': return verb === 'v' || verb === 't' ? pad(String(v), f) : bad(verb, v, f);
    case 'int': {
      const n = Number(v);
      if ('bdoOxXcqUv'.includes(verb)) return fmtInt(n, verb === 'v' ? 'd' : verb, f);
      if ('eEfFgG'.includes(verb)) return fmtFloatVerb(n, verb, f);
      return bad(verb, v, f);
    }
    case 'float': {
      const n = Number(v);
      if ('veEfFgG'.includes(verb)) return fmtFloatVerb(n, verb, f);
      return bad(verb, v, f);
    }
    case 'string': {
      let s = v as string;
      switch (verb) {
        case 'v': case 's':
          if (f.sharpV && verb === 'v') return pad(quote(s), f);
          if (f.prec >= 0) s = [...s].slice(0, f.prec).join('');
          return pad(s, f);
        case 'q':
          if (f.prec >= 0) s = [...s].slice(0, f.prec).join('');
          if (f.sharp && !/[`\x00-\x08\x0a-\x1f\x7f]/.test(s)) return pad('`' + s + '`', f);
          return pad(quote(s, f.plus), f);
        case 'x': case 'X': return pad(hexString(s, verb === 'X', f), f);
        default: return bad(verb, v, f);
      }
    }
    case 'func': return verb === 'v' || verb === 'p' ? pad('0x0', f) : bad(verb, v, f);
  }
  return bad(verb, v, f);
}

/** fmt.Sprintf with Go's verbs, flags, width, precision, `*`, `%[n]` indexes and error forms. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  let reordered = false;
  let i = 0;
  const n = format.length;
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) { out += format.slice(i); break; }
    out += format.slice(i, pct);
    i = pct + 1;
    const f: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false, width: -1, prec: -1 };
    for (; i < n; i++) {
      const c = format[i];
      if (c === '-') { f.minus = true; f.zero = false; } else if (c === '+') f.plus = true;
      else if (c === '#') f.sharp = true; else if (c === ' ') f.space = true;
      else if (c === '0') f.zero = !f.minus; else break;
    }
    const argIndex = () => {
      const m = /^\[(\d+)\]/.exec(format.slice(i));
      if (!m) return;
      i += m[0].length;
      argi = Number(m[1]) - 1;
      reordered = true;
    };
    const num = (): number => {
      if (format[i] === '*') {
        i++;
        const a = args[argi++];
        return typeof a === 'number' && Number.isInteger(a) ? a : NaN;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return -1;
      i += m[0].length;
      return Number(m[0]);
    };
    argIndex();
    f.width = num();
    if (Number.isNaN(f.width)) { out += '%!(BADWIDTH)'; f.width = -1; }
    if (f.width < -1) { f.minus = true; f.width = -f.width; }
    if (format[i] === '.') {
      i++;
      argIndex();
      f.prec = num();
      if (Number.isNaN(f.prec)) { out += '%!(BADPREC)'; f.prec = -1; } else if (f.prec < 0) f.prec = 0;
    }
    argIndex();
    if (i >= n) { out += '%!(NOVERB)'; break; }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') { out += '%'; continue; }
    if (argi >= args.length || argi < 0) { out += `%!${verb}(MISSING)`; continue; }
    if (verb === 'v') {
      if (f.sharp) { f.sharpV = true; f.sharp = false; }
      if (f.plus) { f.plusV = true; f.plus = false; }
    }
    out += fmtOne(args[argi++], verb, f);
  }
  if (!reordered && argi < args.length) {
    out += '%!(EXTRA ' + args.slice(argi).map((a) => (a === null || a === undefined ? '<nil>' : `${typeName(a)}=${formatValue(a)}`)).join(', ') + ')';
  }
  return out;
}
