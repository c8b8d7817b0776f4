/**
 * The word splitters of BuildKit's Dockerfile parser (frontend/dockerfile/parser): the leading
 * `--flag[=value]` words of an instruction (quotes removed), whitespace-separated words that keep
 * their quotes and escapes for the expansion step, and the JSON (exec) form.
 */

const isSpace = (c: string) => /\s/u.test(c);

/** The leading `--flags` of an instruction's arguments (quotes and `\` removed) and the rest. */
export function extractFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let word = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = pos < line.length ? line[pos]! : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { flags, rest: line.slice(pos) };
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { flags, rest: line.slice(pos) };
        if (blankOK || word.length > 0) flags.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') { quote = ch; blankOK = true; phase = 'quote'; continue; }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) { phase = 'word'; continue; }
    if (ch === '\\') {
      if (pos + 1 === line.length) { phase = 'word'; continue; }
      ch = line[++pos]!;
    }
    word += ch;
  }
  return { flags, rest: '' };
}

/** Words split on whitespace outside quotes; quotes and escapes are kept (BuildKit's parseWords). */
export function parseWords(rest: string, esc: string): string[] {
  const words: string[] = [];
  const cs = [...rest];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= cs.length; pos++) {
    let ch = cs[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === cs.length) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === cs.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') { quote = ch; blankOK = true; phase = 'quote'; }
      if (ch === esc) {
        if (pos + 1 === cs.length) continue;
        word += ch;
        ch = cs[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) phase = 'word';
    if (ch === esc && quote !== "'") {
      if (pos + 1 === cs.length) { phase = 'word'; continue; }
      word += ch;
      ch = cs[++pos]!;
    }
    word += ch;
  }
  return words;
}

export const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/**
 * The JSON form: `["a", "b"]` → the strings; undefined when the text is not a JSON array (the
 * shell form is used then). Throws when it is an array of something other than strings.
 */
export function parseJSONForm(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try { v = JSON.parse(t); } catch { return undefined; }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x) => typeof x === 'string')) throw new Error(NOT_STRING_ARRAY);
  return v as string[];
}

/** Whitespace-separated words, nothing else (FROM, EXPOSE). */
export function splitFields(rest: string): string[] {
  const t = rest.trim();
  return t ? t.split(/\s+/u) : [];
}
