/**
 * Variable expansion as BuildKit's shell lexer (frontend/dockerfile/shell/lex.go) does it: `$V`,
 * `${V}`, `${V:-x}` `${V-x}` `${V:+x}` `${V+x}` `${V:?x}` `${V?x}`, `${V#p}` `${V##p}` `${V%p}`
 * `${V%%p}`, `${V/a/b}` `${V//a/b}`; single quotes literal, double quotes expand `$`, the escape
 * token escapes anything outside quotes and only `"`, `$` and itself inside double quotes.
 * Unset variables expand to nothing. `words()` also splits on unquoted whitespace (the result of
 * a `$V` expansion is split, quoted text never is).
 */
import { BerthError } from '../lib/index.js';

export type Env = ReadonlyMap<string, string>;

export interface LexOptions {
  /** `\` (default) or `` ` `` (the `escape` directive) */
  escape?: string;
  /** keep quote characters in the result (heredoc detection, heredoc content) */
  rawQuotes?: boolean;
  /** keep unset variables as they are written (`$X`, `${X}`) */
  skipUnset?: boolean;
  /** keep escape characters (heredoc detection) */
  rawEscapes?: boolean;
}

export class LexError extends Error {}

const EOF = '';
const SPECIAL = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const isSpace = (c: string) => /\s/u.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';
const isNameChar = (c: string) => /[\p{L}\p{Nd}_]/u.test(c);

class Words {
  words: string[] = [];
  cur = '';
  inWord = false;
  addChar(c: string): void {
    if (isSpace(c)) {
      if (this.inWord) { this.words.push(this.cur); this.cur = ''; this.inWord = false; }
      return;
    }
    this.addRawChar(c);
  }
  addRawChar(c: string): void { this.cur += c; this.inWord = true; }
  addString(s: string): void { for (const c of s) this.addChar(c); }
  addRawString(s: string): void { this.cur += s; this.inWord = true; }
  get(): string[] { return this.inWord ? [...this.words, this.cur] : this.words; }
}

class Lexer {
  private readonly chars: string[];
  private pos = 0;
  private readonly esc: string;
  constructor(src: string, private readonly env: Env, private readonly o: LexOptions) {
    this.chars = [...src];
    this.esc = o.escape ?? '\\';
  }
  private peek(): string { return this.chars[this.pos] ?? EOF; }
  private next(): string { return this.chars[this.pos++] ?? EOF; }

  run(stop: string, rawEscapes: boolean): { text: string; words: string[] } {
    let out = '';
    const w = new Words();
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (stop !== EOF && ch === stop) { this.next(); return { text: out, words: w.get() }; }
      if (ch === '$' || ch === "'" || ch === '"') {
        const s = ch === '$' ? this.dollar() : ch === "'" ? this.single() : this.double();
        out += s;
        if (ch === '$') w.addString(s); else w.addRawString(s);
        continue;
      }
      let c = this.next();
      if (c === this.esc) {
        if (rawEscapes) { w.addRawChar(c); out += c; }
        c = this.next();
        if (c === EOF) break;
        w.addRawChar(c);
      } else {
        w.addChar(c);
      }
      out += c;
    }
    if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
    return { text: out, words: w.get() };
  }

  private single(): string {
    let out = '';
    const q = this.next();
    if (this.o.rawQuotes) out += q;
    for (;;) {
      const c = this.next();
      if (c === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (c === "'") { if (this.o.rawQuotes) out += c; return out; }
      out += c;
    }
  }

  private double(): string {
    let out = '';
    const q = this.next();
    if (this.o.rawQuotes) out += q;
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') { const c = this.next(); if (this.o.rawQuotes) out += c; return out; }
      if (p === '$') { out += this.dollar(); continue; }
      let c = this.next();
      if (c === this.esc) {
        const n = this.peek();
        if (n === EOF) continue;
        if (n === '"' || n === '$' || n === this.esc) c = this.next();
      }
      out += c;
    }
  }

  private name(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const c = this.peek();
      if (name === '' && isDigit(c)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL.has(c)) return this.next();
      if (!isNameChar(c)) break;
      name += this.next();
    }
    return name;
  }

  private lookup(name: string): string | undefined { return this.env.get(name); }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const v = this.lookup(name);
      if (v === undefined && this.o.skipUnset) return `$${name}`;
      return v ?? '';
    }
    this.next();
    const p = this.peek();
    if (p === EOF) throw new LexError("syntax error: missing '}'");
    if (p === '{' || p === '}' || p === ':') throw new LexError('syntax error: bad substitution');
    const name = this.name();
    let ch = this.next();
    let chs = ch;
    if (ch === '}') {
      const v = this.lookup(name);
      if (v === undefined && this.o.skipUnset) return `\${${name}}`;
      return v ?? '';
    }
    if (ch === ':' || ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      const nullIsUnset = ch === ':';
      if (nullIsUnset) { ch = this.next(); chs += ch; }
      const rawEscapes = ch === '#' || ch === '%';
      if (nullIsUnset && (rawEscapes || !['+', '-', '?'].includes(ch))) throw new LexError(`unsupported modifier (${chs}) in substitution`);
      let word: string;
      try { word = this.run('}', rawEscapes).text; } catch (e) {
        if (this.peek() === EOF) throw new LexError("syntax error: missing '}'");
        throw e;
      }
      const v = this.lookup(name);
      const set = v !== undefined;
      if (this.o.skipUnset && !set) return `\${${name}${chs}${word}}`;
      const value = v ?? '';
      switch (ch) {
        case '-': return !set || (nullIsUnset && value === '') ? word : value;
        case '+': return !set || (nullIsUnset && value === '') ? '' : word;
        case '?':
          if (!set) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
          return value;
        default: {
          let greedy = false;
          if (word.startsWith(ch)) { greedy = true; word = word.slice(1); }
          return ch === '%' ? trimSuffix(word, value, greedy, this.esc) : trimPrefix(word, value, greedy, this.esc);
        }
      }
    }
    if (ch === '/') {
      const all = this.peek() === '/';
      if (all) this.next();
      let pattern: string;
      let repl: string;
      try { pattern = this.run('/', true).text; } catch (e) {
        if (this.peek() === EOF) throw new LexError("syntax error: missing '/' in ${}");
        throw e;
      }
      try { repl = this.run('}', true).text; } catch (e) {
        if (this.peek() === EOF) throw new LexError("syntax error: missing '}'");
        throw e;
      }
      const v = this.lookup(name);
      if (this.o.skipUnset && v === undefined) return `\${${name}/${pattern}/${repl}}`;
      const re = patternRegex(pattern, true, this.esc);
      const value = v ?? '';
      if (all) return value.replace(new RegExp(re, 'gsu'), () => repl);
      const m = new RegExp(re, 'su').exec(value);
      return m ? value.slice(0, m.index) + repl + value.slice(m.index + m[0].length) : value;
    }
    if (ch === EOF) throw new LexError("syntax error: missing '}'");
    throw new LexError(`unsupported modifier (${chs}) in substitution`);
  }
}

/** A shell pattern (`*`, `?`, `[...]`, escapes) as a regular expression source. */
export function patternRegex(pattern: string, greedy: boolean, esc = '\\'): string {
  let re = '';
  const cs = [...pattern];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*') re += greedy ? '.*' : '.*?';
    else if (c === '?') re += '.';
    else if (c === esc && i + 1 < cs.length) re += escapeRe(cs[++i]!);
    else if (c === '[') {
      const end = cs.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      let body = cs.slice(i + 1, end).join('');
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return re;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function matchesWhole(pattern: string, s: string, esc: string): boolean {
  return new RegExp(`^(?:${patternRegex(pattern, true, esc)})$`, 'su').test(s);
}

function trimPrefix(pattern: string, value: string, greedy: boolean, esc: string): string {
  const cs = [...value];
  if (greedy) { for (let i = cs.length; i >= 0; i--) if (matchesWhole(pattern, cs.slice(0, i).join(''), esc)) return cs.slice(i).join(''); }
  else for (let i = 0; i <= cs.length; i++) if (matchesWhole(pattern, cs.slice(0, i).join(''), esc)) return cs.slice(i).join('');
  return value;
}

function trimSuffix(pattern: string, value: string, greedy: boolean, esc: string): string {
  const cs = [...value];
  if (greedy) { for (let i = 0; i <= cs.length; i++) if (matchesWhole(pattern, cs.slice(i).join(''), esc)) return cs.slice(0, i).join(''); }
  else for (let i = cs.length; i >= 0; i--) if (matchesWhole(pattern, cs.slice(i).join(''), esc)) return cs.slice(0, i).join('');
  return value;
}

/** One word, expanded (quotes removed unless `rawQuotes`). Throws LexError. */
export function expandWord(word: string, env: Env, o: LexOptions = {}): string {
  return new Lexer(word, env, o).run(EOF, !!o.rawEscapes).text;
}

/** Expanded and split into words on unquoted whitespace. Throws LexError. */
export function expandWords(text: string, env: Env, o: LexOptions = {}): string[] {
  return new Lexer(text, env, o).run(EOF, !!o.rawEscapes).words;
}

/** A lexer error as the builder reports it. */
export function lexError(op: string, e: unknown): BerthError {
  return new BerthError({ kind: 'invalid', op, message: `${op}: ${(e as Error).message}`, cause: e });
}
