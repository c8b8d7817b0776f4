/**
 * The Dockerfile parser (BuildKit's frontend/dockerfile/parser): parser directives (`escape`,
 * `syntax`, `check`) at the top, comments, line continuations (comment and blank lines inside a
 * continuation skipped), the instruction word and its `--flags`, the arguments in the shape each
 * instruction takes (JSON or shell form, name=value pairs, words), and heredocs (`<<EOF`,
 * `<<-EOF`, quoted delimiters, several per line) on RUN, COPY and ADD.
 */
import { BerthError } from '../lib/index.js';
import { expandWords, LexError } from './lex.js';
import { extractFlags, parseJSONForm, parseWords, splitFields } from './words.js';

export interface Heredoc {
  name: string;
  content: string;
  /** unquoted delimiter: the content is expanded (COPY/ADD) */
  expand: boolean;
  /** `<<-`: leading tabs stripped */
  chomp: boolean;
  fd: number;
}

export interface Node {
  /** the instruction, lower case */
  cmd: string;
  /** the instruction word as written */
  word: string;
  /** the instruction's line, continuations joined */
  original: string;
  flags: string[];
  /** the arguments in the instruction's shape (see the file comment) */
  args: string[];
  /** JSON (exec) form */
  json: boolean;
  heredocs: Heredoc[];
  /** ONBUILD: the trigger */
  next?: Node;
  line: number;
  endLine: number;
}

export interface Directives {
  escape: string;
  syntax?: string;
  check?: string;
}

export interface Parsed {
  nodes: Node[];
  directives: Directives;
  warnings: string[];
}

/** A Dockerfile error: the file, the line and (when known) the instruction. */
export class DockerfileError extends BerthError {
  constructor(readonly file: string, readonly line: number, message: string, readonly instruction?: string) {
    super({ kind: 'invalid', op: 'build', path: file, message: `${file}:${line}: ${message}` });
  }
}

const RE_DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
const DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const RE_HEREDOC = /^(\d*)<<(-?)([^<]*)$/;
const HEREDOC_CMDS = new Set(['run', 'copy', 'add']);

const trimLeft = (s: string) => s.replace(/^[ \t\r\n\v\f]+/, '');
const isComment = (s: string) => trimLeft(s).startsWith('#');

/** A `<<WORD` token as a heredoc (name, expand, chomp), or undefined. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = RE_HEREDOC.exec(word);
  if (!m || !m[3]) return undefined;
  const rest = m[3];
  const empty = new Map<string, string>();
  const words = expandWords(rest, empty, { skipUnset: true });
  if (words.length !== 1) return undefined;
  const raw = expandWords(rest, empty, { skipUnset: true, rawQuotes: true });
  if (raw.length !== 1) throw new LexError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const count = (s: string) => (s.match(/['"]/g) ?? []).length;
  return { name: words[0]!, expand: count(words[0]!) === count(raw[0]!), chomp: m[2] === '-', fd: Number(m[1] || 0) };
}

function heredocsOf(line: string): Array<Omit<Heredoc, 'content'>> {
  const out: Array<Omit<Heredoc, 'content'>> = [];
  for (const w of expandWords(line, new Map(), { rawQuotes: true, rawEscapes: true })) {
    const h = parseHeredocWord(w);
    if (h) out.push(h);
  }
  return out;
}

/** `<<-` content: leading tabs removed from every line. */
export function chompHeredoc(content: string): string {
  return content.split('\n').map((l) => l.replace(/^\t+/, '')).join('\n');
}

/** ENV / LABEL: `name value` (legacy) or `name=value ...`; returns [k, v, k, v, ...]. */
function nameVal(rest: string, key: string, esc: string): string[] {
  const words = parseWords(rest, esc);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const parts = rest.trim().split(/\s+/u);
    if (parts.length < 2) throw new Error(`${key} must have two arguments`);
    const k = parts[0]!;
    return [k, rest.trim().slice(k.length).replace(/^\s+/u, '')];
  }
  const out: string[] = [];
  for (const w of words) {
    const i = w.indexOf('=');
    if (i < 0) throw new Error(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (i === 0) throw new Error(`${key} names can not be blank`);
    out.push(w.slice(0, i), w.slice(i + 1));
  }
  return out;
}

interface Shape { args: string[]; json: boolean; next?: Node }

function shape(cmd: string, rest: string, esc: string, mk: (line: string) => Node): Shape {
  const maybeJSON = (): Shape => {
    const j = parseJSONForm(rest);
    if (j) return { args: j, json: true };
    const t = rest.replace(/^\s+/u, '');
    return { args: t ? [t] : [], json: false };
  };
  switch (cmd) {
    case 'add': case 'copy': case 'volume': {
      const j = parseJSONForm(rest);
      return j ? { args: j, json: true } : { args: splitFields(rest), json: false };
    }
    case 'arg': return { args: parseWords(rest, esc), json: false };
    case 'cmd': case 'entrypoint': case 'run': case 'shell': return maybeJSON();
    case 'env': return { args: nameVal(rest, 'ENV', esc), json: false };
    case 'label': return { args: nameVal(rest, 'LABEL', esc), json: false };
    case 'expose': case 'from': return { args: splitFields(rest), json: false };
    case 'healthcheck': {
      const t = rest.replace(/^\s+/u, '');
      const m = /^(\S+)\s*/u.exec(t);
      if (!m) return { args: [], json: false };
      const j = parseJSONForm(t.slice(m[0].length));
      if (j) return { args: [m[1]!, ...j], json: true };
      const r = t.slice(m[0].length);
      return { args: r ? [m[1]!, r] : [m[1]!], json: false };
    }
    case 'maintainer': case 'stopsignal': case 'user': case 'workdir': {
      const t = rest.trim();
      return { args: t ? [t] : [], json: false };
    }
    case 'onbuild': {
      const t = rest.trim();
      if (!t) return { args: [], json: false };
      const next = mk(t);
      return { args: [t], json: false, next };
    }
    default: return { args: [], json: false };
  }
}

/** One instruction line (continuations joined) as a node, without heredocs. */
export function parseLine(line: string, esc: string, lineNo = 0, endLine = lineNo): Node {
  const t = line.trim();
  const m = /^(\S+)(?:\s+([\s\S]*))?$/u.exec(t);
  const word = m?.[1] ?? '';
  const cmd = word.toLowerCase();
  const { flags, rest } = extractFlags(m?.[2] ?? '');
  const s = shape(cmd, rest, esc, (l) => {
    const n = parseLine(l, esc, lineNo, endLine);
    if (n.cmd === 'onbuild') throw new Error('chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    if (n.cmd === 'from' || n.cmd === 'maintainer') throw new Error(`${n.word.toUpperCase()} isn't allowed as an ONBUILD trigger`);
    return n;
  });
  return { cmd, word, original: t, flags, args: s.args, json: s.json, heredocs: [], ...(s.next ? { next: s.next } : {}), line: lineNo, endLine };
}

/** Parse a whole Dockerfile. Throws DockerfileError naming `file` and the line. */
export function parseDockerfile(text: string, file = 'Dockerfile'): Parsed {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  if (lines.length && lines.at(-1) === '') lines.pop();
  const d: Directives = { escape: '\\' };
  const seen = new Set<string>();
  let directivesDone = false;
  const warnings: string[] = [];
  const nodes: Node[] = [];
  let i = 0;
  const fail = (line: number, msg: string, instr?: string): never => { throw new DockerfileError(file, line, `dockerfile parse error on line ${line}: ${msg}`, instr); };
  const nl = (s: string) => s.replace(/\r$/, '');
  const contRe = () => new RegExp(`${d.escape === '`' ? '`' : '\\\\'}[ \\t]*$`);

  while (i < lines.length) {
    let raw = trimLeft(nl(lines[i]!));
    i++;
    const start = i;
    if (!directivesDone) {
      const m = RE_DIRECTIVE.exec(raw);
      const k = m?.[1]!.toLowerCase();
      if (!m || !DIRECTIVES.has(k!)) directivesDone = true;
      else {
        if (seen.has(k!)) fail(start, `only one ${k} parser directive can be used`);
        seen.add(k!);
        const v = m[2]!;
        if (k === 'escape') {
          if (v !== '`' && v !== '\\') fail(start, `invalid escape token '${v}' does not match \` or \\`);
          d.escape = v;
        } else if (k === 'syntax') d.syntax = v;
        else d.check = v;
        continue;
      }
    }
    if (isComment(raw)) continue;
    const cont = contRe();
    let line = raw;
    let ended = !cont.test(line);
    if (!ended) line = line.replace(cont, '');
    if (ended && line.trim() === '') continue;
    let emptyCont = false;
    while (!ended && i < lines.length) {
      const next = nl(lines[i]!);
      i++;
      if (isComment(next)) continue;
      if (next.trim() === '') { emptyCont = true; continue; }
      ended = !cont.test(next);
      line += ended ? next : next.replace(cont, '');
    }
    if (emptyCont) warnings.push(`${file}:${start}: empty continuation line`);
    if (line.trim() === '') continue;
    let node: Node;
    try { node = parseLine(line, d.escape, start, i); } catch (e) {
      return fail(start, (e as Error).message, line.trim().split(/\s+/u)[0]!.toUpperCase());
    }
    if (HEREDOC_CMDS.has(node.cmd) && !node.json && line.includes('<<')) {
      let docs: Array<Omit<Heredoc, 'content'>>;
      try { docs = heredocsOf(line); } catch (e) { return fail(start, (e as Error).message, node.word.toUpperCase()); }
      for (const h of docs) {
        let content = '';
        let done = false;
        while (i < lines.length) {
          const l = lines[i]!;
          i++;
          let term = nl(l);
          if (h.chomp) term = term.replace(/^\t+/, '');
          if (term === h.name) { done = true; break; }
          content += `${nl(l)}\n`;
        }
        if (!done) fail(start, 'unterminated heredoc', node.word.toUpperCase());
        node.heredocs.push({ ...h, content });
      }
      node.endLine = i;
    }
    nodes.push(node);
  }
  return { nodes, directives: d, warnings };
}
