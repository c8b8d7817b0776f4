/**
 * `.dockerignore` as moby/patternmatcher reads and applies it: one pattern a line, `#` comments,
 * cleaned paths (leading `/` dropped), `!` exceptions, `*` and `?` within one path element, `**`
 * across any number of them, `[...]` classes, `\` escapes; the last matching pattern decides, and
 * a path is excluded when it or one of its parent directories matches.
 */
import { posix } from 'node:path';

interface Pattern { exclusion: boolean; text: string; re: RegExp }

const META = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

function compile(p: string): RegExp {
  let re = '^';
  const cs = [...p];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*') {
      if (cs[i + 1] === '*') {
        i++;
        if (cs[i + 1] === '/') i++;
        re += i + 1 >= cs.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (META.has(c)) re += `\\${c}`;
    else if (c === '\\') re += i + 1 < cs.length ? `\\${cs[++i]}` : '\\\\';
    else if (c === '[' && cs[i + 1] === '!') { re += '[^'; i++; }
    else re += c;
  }
  return new RegExp(`${re}$`, 'su');
}

/** Lines of a .dockerignore file → patterns (BuildKit's dockerignore.ReadAll). */
export function readIgnore(text: string): string[] {
  const out: string[] = [];
  for (const line of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (!p) continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p) {
      p = posix.normalize(p).replace(/(.)\/+$/, '$1');
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

export class PatternMatcher {
  private readonly patterns: Pattern[] = [];

  constructor(patterns: string[]) {
    for (let p of patterns) {
      p = p.trim();
      if (!p) continue;
      const exclusion = p.startsWith('!');
      if (exclusion) {
        if (p.length === 1) throw new Error('illegal exclusion pattern: "!"');
        p = p.slice(1);
      }
      p = posix.normalize(p).replace(/(.)\/+$/, '$1');
      let re: RegExp;
      try { re = compile(p); } catch { throw new Error(`syntax error in pattern: ${p}`); }
      this.patterns.push({ exclusion, text: p, re });
    }
  }

  get empty(): boolean { return this.patterns.length === 0; }
  get hasExclusions(): boolean { return this.patterns.some((p) => p.exclusion); }

  /** Whether `file` (slash-separated, relative to the context) is ignored. */
  matches(file: string): boolean {
    file = posix.normalize(file);
    const parent = posix.dirname(file);
    const dirs = parent === '.' ? [] : parent.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let m = p.re.test(file);
      for (let i = 0; !m && i < dirs.length; i++) m = p.re.test(dirs.slice(0, i + 1).join('/'));
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /** Whether an exception pattern may re-include something under the ignored directory `dir`. */
  mayIncludeUnder(dir: string): boolean {
    return this.patterns.some((p) => p.exclusion && (p.text.startsWith(`${dir}/`) || p.text.includes('*') || p.text.includes('?') || p.text.includes('[')));
  }
}
