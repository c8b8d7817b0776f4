/**
 * Lexer for Go's text/template language: text, `{{ … }}` actions with trim markers (`{{- `,
 * ` -}}`), comments, and the tokens inside actions. Errors are Go's (`unclosed action`, …).
 */
import { TemplateError } from './errors.js';

export type TokenType =
  | 'text' | 'left' | 'right' | 'space' | 'ident' | 'field' | 'var' | 'string' | 'raw' | 'char' | 'number'
  | 'bool' | 'nil' | 'dot' | 'other' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'keyword' | 'eof';

export interface Token { type: TokenType; val: string; pos: number; line: number }

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'nil', 'template', 'with']);
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined) => c !== undefined && (c === '_' || /[\p{L}\p{Nd}]/u.test(c));

/** Go's %#U of a character: `U+0040 '@'`. */
export function goRune(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  return /\p{L}|\p{N}|\p{P}|\p{S}/u.test(c) || c === ' ' ? `U+${hex} '${c}'` : `U+${hex}`;
}

export function lex(name: string, input: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  const lineAt = (p: number) => { let n = 1; for (let i = 0; i < p && i < input.length; i++) if (input[i] === '\n') n++; return n; };
  // tokens come in order: count lines as we go
  let line = 1, counted = 0;
  const lineOf = (p: number) => { for (; counted < p; counted++) if (input[counted] === '\n') line++; return line; };
  const fail = (msg: string, at = pos): never => { throw new TemplateError(`template: ${name}:${lineAt(at)}: ${msg}`); };
  const emit = (type: TokenType, start: number, end: number, val = input.slice(start, end)) => out.push({ type, val, pos: start, line: lineOf(start) });
  // past a quoted string or character constant that opens at pos (escapes skipped; no newline)
  const quoted = (quote: string, unterminated: string, start: number): void => {
    pos++;
    for (;;) {
      const d = input[pos];
      if (d === '\\' && input[pos + 1] !== undefined && input[pos + 1] !== '\n') { pos += 2; continue; }
      if (d === undefined || d === '\n') fail(unterminated, start);
      pos++;
      if (d === quote) return;
    }
  };
  /** A right delimiter at `p`, with its trim marker: returns [length, trims] or undefined. */
  const rightAt = (p: number): [number, boolean] | undefined => {
    if (isSpace(input[p]) && input.startsWith('-}}', p + 1)) return [4, true];
    if (input.startsWith('}}', p)) return [2, false];
    return undefined;
  };
  let trimNext = false;
  while (pos <= input.length) {
    const open = input.indexOf('{{', pos);
    let textEnd = open < 0 ? input.length : open;
    const trimLeft = open >= 0 && input[open + 2] === '-' && isSpace(input[open + 3]);
    let start = pos;
    if (trimNext) { while (start < textEnd && isSpace(input[start])) start++; trimNext = false; }
    if (trimLeft) while (textEnd > start && isSpace(input[textEnd - 1])) textEnd--;
    if (textEnd > start) emit('text', start, textEnd);
    if (open < 0) break;
    pos = open + 2 + (trimLeft ? 2 : 0);
    // comment: /* … */ directly after the delimiter, directly before the closing one
    if (input.startsWith('/*', pos)) {
      const close = input.indexOf('*/', pos + 2);
      if (close < 0) fail('unclosed comment', open);
      const r = rightAt(close + 2);
      if (!r) fail('comment ends before closing delimiter', open);
      pos = close + 2 + r![0];
      trimNext = r![1];
      continue;
    }
    emit('left', open, open + 2);
    let depth = 0;
    for (;;) {
      const r = rightAt(pos);
      if (r) {
        if (depth > 0) fail('unclosed left paren', pos);
        emit('right', pos + (r[1] ? 2 : 0), pos + r[0]);
        pos += r[0];
        trimNext = r[1];
        break;
      }
      const c = input[pos];
      if (c === undefined) fail('unclosed action', input.length);
      const s = pos;
      if (isSpace(c)) {
        while (isSpace(input[pos]) && !rightAt(pos)) pos++;
        if (pos === s) pos++; // a space before `-}}` is that marker's, handled above
        emit('space', s, pos);
      } else if (c === '|') { pos++; emit('pipe', s, pos); }
      else if (c === ',') { pos++; emit('comma', s, pos); }
      else if (c === '(') { pos++; depth++; emit('lparen', s, pos); }
      else if (c === ')') {
        pos++; depth--;
        if (depth < 0) fail(`unexpected right paren`, s);
        emit('rparen', s, pos);
      } else if (c === ':' && input[pos + 1] === '=') {
        pos += 2; emit('declare', s, pos);
      } else if (c === '=') { pos++; emit('assign', s, pos); }
      else if (c === '"') { quoted('"', 'unterminated quoted string', s); emit('string', s, pos); } else if (c === '`') {
        const e = input.indexOf('`', pos + 1);
        if (e < 0) fail('unterminated raw quoted string', s);
        pos = e + 1; emit('raw', s, pos);
      } else if (c === "'") { quoted("'", 'unterminated character constant', s); emit('char', s, pos); } else if (c === '$') {
        pos++;
        while (isAlnum(input[pos])) pos++;
        emit('var', s, pos);
      } else if (c === '.' && !/[0-9]/.test(input[pos + 1] ?? '')) {
        pos++;
        if (!isAlnum(input[pos])) { emit('dot', s, pos); continue; }
        while (isAlnum(input[pos])) pos++;
        atTerminator(pos);
        emit('field', s, pos);
      } else if (c === '.' || c === '+' || c === '-' || /[0-9]/.test(c)) {
        pos = scanNumber(input, pos);
        if (isAlnum(input[pos])) { pos++; fail(`bad number syntax: "${input.slice(s, pos)}"`, s); }
        emit('number', s, pos);
      } else if (isAlnum(c)) {
        while (isAlnum(input[pos])) pos++;
        atTerminator(pos);
        const w = input.slice(s, pos);
        emit(w === 'true' || w === 'false' ? 'bool' : w === 'nil' ? 'nil' : KEYWORDS.has(w) ? 'keyword' : 'ident', s, pos);
      } else if (c >= '!' && c <= '~') {
        pos++; emit('other', s, pos);
      } else {
        fail(`unrecognized character in action: ${goRune(String.fromCodePoint(input.codePointAt(pos)!))}`, s);
      }
    }
    function atTerminator(p: number): void {
      const d = input[p];
      if (d === undefined || isSpace(d) || '.,|:)('.includes(d) || rightAt(p)) return;
      fail(`bad character ${goRune(String.fromCodePoint(input.codePointAt(p)!))}`, p);
    }
  }
  out.push({ type: 'eof', val: '', pos: input.length, line: lineOf(input.length) });
  return out;
}

/** Go's scanNumber: sign, base prefix, digits with `_`, fraction, exponent. Returns the end. */
function scanNumber(s: string, p: number): number {
  if (s[p] === '+' || s[p] === '-') p++;
  let digits = '0123456789_';
  if (s[p] === '0' && /[xXoObB]/.test(s[p + 1] ?? '')) {
    const b = s[p + 1]!.toLowerCase();
    digits = b === 'x' ? '0123456789abcdefABCDEF_' : b === 'o' ? '01234567_' : '01_';
    p += 2;
  }
  while (s[p] !== undefined && digits.includes(s[p]!)) p++;
  if (s[p] === '.') { p++; while (s[p] !== undefined && digits.includes(s[p]!)) p++; }
  const exp = digits.length > 11 ? 'pP' : 'eE';
  if (s[p] !== undefined && exp.includes(s[p]!)) {
    p++;
    if (s[p] === '+' || s[p] === '-') p++;
    while (s[p] !== undefined && '0123456789_'.includes(s[p]!)) p++;
  }
  if (s[p] === 'i') p++;
  return p;
}
