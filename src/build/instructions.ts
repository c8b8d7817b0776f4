/**
 * Parsed nodes → typed instructions, with BuildKit's flag rules (`--name=value`, booleans,
 * lists, unknown and duplicate flags) and argument checks, and the split into stages: global
 * ARGs before the first FROM, then one stage per FROM (`AS name`).
 */
import { chompHeredoc, DockerfileError, parseHeredocWord, type Heredoc, type Node, type Parsed } from './parser.js';

type FlagKind = 'string' | 'bool' | 'list';
const FLAGS: Record<string, Record<string, FlagKind>> = {
  from: { platform: 'string' },
  run: { mount: 'list', network: 'string', security: 'string' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'list' },
  add: { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'list', unpack: 'bool' },
  healthcheck: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

export type Flags = Record<string, string | string[] | boolean | undefined>;

/** BuildKit's BFlags: returns the flags by name; throws with its messages. */
export function parseFlags(cmd: string, words: string[]): Flags {
  const spec = FLAGS[cmd] ?? {};
  const out: Flags = {};
  for (const w of words) {
    if (!w.startsWith('--')) throw new Error(`arg should start with -- : ${w}`);
    const body = w.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const kind = spec[name];
    if (!kind) throw new Error(`unknown flag: ${name}`);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    if (kind === 'list') {
      if (value === undefined) throw new Error(`missing a value on flag: ${name}`);
      out[name] = [...((out[name] as string[] | undefined) ?? []), value];
      continue;
    }
    if (out[name] !== undefined) throw new Error(`duplicate flag specified: ${name}`);
    if (kind === 'bool') {
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') throw new Error(`expecting boolean value for flag ${name}, not: ${value}`);
      out[name] = v === 'true';
    } else {
      if (value === undefined) throw new Error(`missing a value on flag: ${name}`);
      out[name] = value;
    }
  }
  return out;
}

export interface SourceContent { path: string; data: string; expand: boolean }

export interface Instruction {
  /** upper case: RUN, COPY, ... */
  name: string;
  node: Node;
  flags: Flags;
  args: string[];
  json: boolean;
  /** COPY/ADD: heredoc sources; RUN: heredoc files */
  contents: SourceContent[];
  heredocs: Heredoc[];
}

export interface Stage {
  index: number;
  /** `AS name`, lower case */
  name?: string;
  /** the base as written (expanded later with the global ARGs) */
  base: string;
  platform?: string;
  from: Instruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  /** ARG instructions before the first FROM */
  globalArgs: Instruction[];
  stages: Stage[];
  warnings: string[];
  syntax?: string;
  escape: string;
}

const KNOWN = new Set(['add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label', 'maintainer', 'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir']);
const RE_STAGE = /^[a-z][a-z0-9-_.]*$/;

function checkArgs(n: Node, upper: string): void {
  const a = n.args;
  switch (n.cmd) {
    case 'from':
      if (a.length !== 1 && !(a.length === 3 && a[1]!.toLowerCase() === 'as')) throw new Error('FROM requires either one or three arguments');
      if (a.length === 3 && !RE_STAGE.test(a[2]!.toLowerCase())) throw new Error(`invalid name for build stage: "${a[2]}", name can't start with a number or contain symbols`);
      return;
    case 'copy': case 'add':
      if (a.length === 1) throw new Error(`${upper} requires at least two arguments, but only one was provided. Destination could not be determined`);
      if (a.length < 1) throw new Error(`${upper} requires at least two arguments`);
      if (parseHeredocWord(a.at(-1)!)) throw new Error(`${upper} cannot accept a heredoc as a destination`);
      return;
    case 'env': case 'label': case 'arg': case 'expose': case 'volume': case 'healthcheck': case 'onbuild':
      if (a.length === 0) throw new Error(`${upper} requires at least one argument`);
      if (n.cmd === 'volume' && a.some((v) => v.trim() === '')) throw new Error('VOLUME specified can not be an empty string');
      return;
    case 'maintainer': case 'workdir': case 'user': case 'stopsignal':
      if (a.length !== 1) throw new Error(`${upper} requires exactly one argument`);
      return;
    case 'shell':
      if (!n.json) throw new Error('SHELL requires the arguments to be in JSON form');
      if (a.length === 0) throw new Error('SHELL requires at least one argument');
      return;
    case 'run':
      if (a.length === 0) throw new Error('RUN requires at least one argument');
      return;
    default:
  }
}

/** One node as an instruction; throws DockerfileError. */
export function toInstruction(n: Node, file: string): Instruction {
  const upper = n.word.toUpperCase();
  const fail = (msg: string): never => { throw new DockerfileError(file, n.line, msg, upper); };
  if (!KNOWN.has(n.cmd)) fail(`dockerfile parse error on line ${n.line}: unknown instruction: ${upper}`);
  let flags: Flags = {};
  try {
    flags = parseFlags(n.cmd, n.flags);
    checkArgs(n, upper);
  } catch (e) { fail(`dockerfile parse error on line ${n.line}: ${upper}: ${(e as Error).message}`); }
  const contents: SourceContent[] = [];
  if ((n.cmd === 'copy' || n.cmd === 'add') && n.heredocs.length) {
    const byName = new Map(n.heredocs.map((h) => [h.name, h]));
    const srcs: string[] = [];
    for (const s of n.args.slice(0, -1)) {
      const h = parseHeredocWord(s);
      const doc = h && byName.get(h.name);
      if (doc) contents.push({ path: doc.name, data: doc.chomp ? chompHeredoc(doc.content) : doc.content, expand: doc.expand });
      else srcs.push(s);
    }
    return { name: upper, node: n, flags, args: [...srcs, n.args.at(-1)!], json: n.json, contents, heredocs: n.heredocs };
  }
  if (n.next) toInstruction(n.next, file);
  return { name: upper, node: n, flags, args: n.args, json: n.json, contents, heredocs: n.heredocs };
}

/** The instructions grouped into stages. */
export function toDockerfile(p: Parsed, file = 'Dockerfile'): Dockerfile {
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const n of p.nodes) {
    const ins = toInstruction(n, file);
    if (n.cmd === 'from') {
      const name = n.args.length === 3 ? n.args[2]!.toLowerCase() : undefined;
      if (name) {
        if (names.has(name)) throw new DockerfileError(file, n.line, `duplicate stage name "${name}"`, 'FROM');
        names.add(name);
      }
      stages.push({ index: stages.length, ...(name ? { name } : {}), base: n.args[0]!, platform: ins.flags.platform as string | undefined, from: ins, instructions: [] });
      continue;
    }
    const cur = stages.at(-1);
    if (!cur) {
      if (n.cmd !== 'arg') throw new DockerfileError(file, n.line, `no build stage in current context`, ins.name);
      globalArgs.push(ins);
      continue;
    }
    cur.instructions.push(ins);
  }
  if (!stages.length) throw new DockerfileError(file, 1, 'the Dockerfile has no FROM instruction (no build stage in current context)');
  return { file, globalArgs, stages, warnings: p.warnings, ...(p.directives.syntax ? { syntax: p.directives.syntax } : {}), escape: p.directives.escape };
}
