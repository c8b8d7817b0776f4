/** Parser for Go's text/template: builds the trees of a template and of its `define`s/`block`s. */
import { TemplateError } from './errors.js';
import { lex, type Token } from './lexer.js';
import {
  nodeString, type Arg, type BranchNode, type CommandNode, type EndNode, type ListNode, type Node, type NumberNode,
  type PipeNode, type TemplateNode, type VariableNode,
} from './nodes.js';

/** Go's strconv.Unquote for "…", `…` and '…' literals; undefined when the syntax is bad. */
export function unquote(q: string): string | undefined {
  if (q.startsWith('`')) return q.slice(1, -1).replace(/\r/g, '');
  const body = q.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') { out += c; continue; }
    const e = body[++i];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (e === undefined) return undefined;
    if (simple[e] !== undefined) out += simple[e];
    else if (e === q[0]) out += e;
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const h = body.slice(i + 1, i + 1 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) return undefined;
      const v = parseInt(h, 16);
      if (e === 'x') out += String.fromCharCode(v); // a byte; fine for ASCII
      else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) return undefined;
      else out += String.fromCodePoint(v);
      i += n;
    } else if (/[0-7]/.test(e)) {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) return undefined;
      out += String.fromCharCode(parseInt(o, 8));
      i += 2;
    } else return undefined;
  }
  if (q[0] === "'" && [...out].length !== 1) return undefined;
  return out;
}

export function parseNumber(text: string, isChar: boolean): NumberNode | undefined {
  const node = (value: number, isInt: boolean, isFloat: boolean): NumberNode => ({ type: 'number', pos: 0, value, isInt, isFloat, text, float: false });
  if (isChar) {
    const s = unquote(text);
    if (s === undefined) throw new Error([...text].length > 3 && text[1] !== '\\' ? `malformed character constant: ${text}` : 'invalid syntax');
    return node(s.codePointAt(0)!, true, true);
  }
  const t = text.replace(/_/g, '');
  if (/^[+-]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.test(t)) {
    const neg = t.startsWith('-');
    const u = t.replace(/^[+-]/, '');
    const v = /^0[0-7]+$/.test(u) ? parseInt(u.slice(1), 8) : Number(u);
    return node(neg ? -v : v, true, true);
  }
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) {
    const v = Number(t);
    if (!Number.isFinite(v)) return undefined;
    return { ...node(v, Number.isInteger(v), true), float: true };
  }
  return undefined;
}

/** Go's IsEmptyTree: only whitespace text (and nothing else). */
export function isEmpty(list: ListNode): boolean {
  return list.nodes.every((n) => n.type === 'text' && !n.text.trim());
}

export class Parser {
  private toks: Token[] = [];
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  readonly trees = new Map<string, ListNode>();

  constructor(private readonly name: string, private readonly hasFunc: (name: string) => boolean) {}

  parse(text: string): ListNode {
    this.toks = lex(this.name, text);
    this.i = 0;
    const root: ListNode = { type: 'list', pos: 0, nodes: [] };
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'left') {
        const save = this.i;
        this.next();
        const k = this.nextNonSpace();
        if (k.type === 'keyword' && k.val === 'define') { this.parseDefinition(); continue; }
        this.i = save;
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.fail(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    return root;
  }

  private cur(): Token { return this.toks[this.i - 1]!; }
  private next(): Token { return this.toks[Math.min(this.i++, this.toks.length - 1)]!; }
  private peek(): Token { return this.toks[Math.min(this.i, this.toks.length - 1)]!; }
  private nextNonSpace(): Token { let t; do t = this.next(); while (t.type === 'space'); return t; }
  private peekNonSpace(): Token { const t = this.nextNonSpace(); this.i--; return t; }
  private fail(msg: string, tok: Token = this.cur() ?? this.peek()): never {
    throw new TemplateError(`template: ${this.name}:${tok.line}: ${msg}`);
  }
  private describe(t: Token): string {
    switch (t.type) {
      case 'eof': return 'EOF';
      case 'keyword': case 'dot': case 'nil': return `<${t.val}>`;
      default: {
        const r = [...t.val];
        return r.length > 10 ? JSON.stringify(r.slice(0, 10).join('')) + '...' : JSON.stringify(t.val);
      }
    }
  }
  private unexpected(t: Token, context: string): never { this.fail(`unexpected ${this.describe(t)} in ${context}`, t); }
  private expect(type: Token['type'], context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.unexpected(t, context);
    return t;
  }

  private parseDefinition(): void {
    const name = this.templateName(this.nextNonSpace(), 'define clause');
    this.expect('right', 'define clause');
    const saved = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    this.vars = saved;
    if (end.type !== 'end') this.fail(`unexpected ${nodeString(end)} in define clause`);
    this.add(name, list);
  }

  private add(name: string, list: ListNode): void {
    const old = this.trees.get(name);
    if (old && !isEmpty(old)) {
      // Go: an empty redefinition leaves a real one alone; two real ones are an error
      if (isEmpty(list)) return;
      this.fail(`template: multiple definition of template ${JSON.stringify(name)}`);
    }
    this.trees.set(name, list);
  }

  private itemList(): [ListNode, EndNode] {
    const list: ListNode = { type: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return [list, n];
      list.nodes.push(n);
    }
    this.fail('unexpected EOF', this.peek());
  }

  private textOrAction(): Node {
    const t = this.nextNonSpace();
    if (t.type === 'text') return { type: 'text', pos: t.pos, text: t.val };
    if (t.type === 'left') return this.action();
    this.unexpected(t, 'input');
  }

  private action(): Node {
    const t = this.nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'block': return this.blockControl(t);
        case 'break': case 'continue': {
          this.expect('right', `{{${t.val}}}`);
          if (this.rangeDepth === 0) this.fail(`{{${t.val}}} outside {{range}}`, t);
          return { type: t.val, pos: t.pos };
        }
        case 'else': {
          const p = this.peekNonSpace();
          if (p.type === 'keyword' && (p.val === 'if' || p.val === 'with')) return { type: 'else', pos: p.pos };
          this.expect('right', 'else');
          return { type: 'else', pos: t.pos };
        }
        case 'end': this.expect('right', 'end'); return { type: 'end', pos: t.pos };
        case 'if': case 'range': case 'with': return this.control(t.val, t);
        case 'template': return this.templateControl(t);
        default: break;
      }
    }
    this.i--;
    const pipe = this.pipeline('command', 'right');
    return { type: 'action', pos: t.pos, line: t.line, pipe };
  }

  private control(kind: 'if' | 'range' | 'with', t: Token): BranchNode {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, 'right');
    if (kind === 'range') this.rangeDepth++;
    const [list, next] = this.itemList();
    if (kind === 'range') this.rangeDepth--;
    let elseList: ListNode | null = null;
    if (next.type === 'else') {
      const p = this.peekNonSpace();
      if (kind !== 'range' && p.type === 'keyword' && p.val === kind) {
        // `{{else if …}}` / `{{else with …}}`: a nested branch that shares the one {{end}}
        this.nextNonSpace();
        elseList = { type: 'list', pos: p.pos, nodes: [this.control(kind, p)] };
      } else {
        let end: EndNode;
        [elseList, end] = this.itemList();
        if (end.type !== 'end') this.fail(`expected end; found ${nodeString(end)}`);
      }
    }
    this.vars.length = mark;
    // Go: a branch is at its pipeline (errors point there)
    return { type: kind, pos: pipe.pos, line: pipe.line, pipe, list, elseList };
  }

  private templateName(t: Token, context: string): string {
    if (t.type === 'string' || t.type === 'raw') {
      const s = unquote(t.val);
      if (s === undefined) this.fail('invalid syntax', t);
      return s;
    }
    this.unexpected(t, context);
  }

  private templateControl(t: Token): TemplateNode {
    const tok = this.nextNonSpace();
    const name = this.templateName(tok, 'template clause');
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().type !== 'right') { this.i--; pipe = this.pipeline('template clause', 'right'); }
    return { type: 'template', pos: tok.pos, line: tok.line, name, pipe };
  }

  private blockControl(t: Token): TemplateNode {
    const tok = this.nextNonSpace();
    const name = this.templateName(tok, 'block clause');
    const pipe = this.pipeline('block clause', 'right');
    const saved = this.vars; const depth = this.rangeDepth;
    this.vars = ['$']; this.rangeDepth = 0;
    const [list, end] = this.itemList();
    this.vars = saved; this.rangeDepth = depth;
    if (end.type !== 'end') this.fail(`unexpected ${nodeString(end)} in block clause`);
    this.add(name, list);
    return { type: 'template', pos: tok.pos, line: tok.line, name, pipe };
  }

  private pipeline(context: string, end: 'right' | 'rparen'): PipeNode {
    const start = this.peekNonSpace();
    const pipe: PipeNode = { type: 'pipe', pos: start.pos, line: start.line, isAssign: false, decl: [], cmds: [] };
    // declarations: `$x :=`, `$x =`, `$i, $v :=`
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'var') break;
      const save = this.i;
      this.nextNonSpace();
      const nx = this.peekNonSpace();
      if (nx.type === 'declare' || nx.type === 'assign') {
        this.nextNonSpace();
        pipe.isAssign = nx.type === 'assign';
        pipe.decl.push({ type: 'variable', pos: v.pos, idents: [v.val] });
        this.vars.push(v.val);
        break;
      }
      if (nx.type === 'comma') {
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, idents: [v.val] });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2 && this.peekNonSpace().type === 'var') continue;
        if (context === 'range' && pipe.decl.length < 2) this.fail('range can only initialize variables');
        this.fail(`too many declarations in ${context}`);
      }
      this.i = save;
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, t);
        pipe.cmds.slice(1).forEach((c, k) => {
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0]!.type)) this.fail(`non executable command in pipeline stage ${k + 2}`);
        });
        return pipe;
      }
      if (['bool', 'char', 'dot', 'field', 'ident', 'number', 'nil', 'raw', 'string', 'var', 'lparen'].includes(t.type)) {
        this.i--;
        pipe.cmds.push(this.command());
      } else this.unexpected(t, context);
    }
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const op = this.operand();
      if (op) cmd.args.push(op);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'right' || t.type === 'rparen') { this.i--; break; }
      if (t.type === 'pipe') break;
      this.unexpected(t, 'operand');
    }
    if (cmd.args.length === 0) this.fail('empty command');
    return cmd;
  }

  private operand(): Arg | undefined {
    let node = this.term();
    if (!node) return undefined;
    if (this.peek().type === 'field') {
      const fields: string[] = [];
      const pos = this.peek().pos;
      while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
      switch (node.type) {
        // Go: a chained field or variable is at its second element
        case 'field': node = { type: 'field', pos, idents: [...node.idents, ...fields] }; break;
        case 'variable': node = { type: 'variable', pos, idents: [...node.idents, ...fields] }; break;
        case 'bool': case 'string': case 'number': case 'nil': case 'dot':
          this.fail(`unexpected . after term ${JSON.stringify(nodeString(node))}`);
        default: node = { type: 'chain', pos, node, fields };
      }
    }
    return node;
  }

  private useVar(t: Token): VariableNode {
    const idents = [t.val];
    if (!this.vars.includes(t.val)) this.fail(`undefined variable "${t.val}"`, t);
    return { type: 'variable', pos: t.pos, idents };
  }

  private term(): Arg | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'ident':
        if (!this.hasFunc(t.val)) this.fail(`function "${t.val}" not defined`, t);
        return { type: 'identifier', pos: t.pos, name: t.val };
      case 'dot': return { type: 'dot', pos: t.pos };
      case 'nil': return { type: 'nil', pos: t.pos };
      case 'var': return this.useVar(t);
      case 'field': return { type: 'field', pos: t.pos, idents: [t.val.slice(1)] };
      case 'bool': return { type: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'char': case 'number': {
        let n: NumberNode | undefined;
        try { n = parseNumber(t.val, t.type === 'char'); } catch (e) { this.fail((e as Error).message, t); }
        if (!n) this.fail(`illegal number syntax: ${JSON.stringify(t.val)}`, t);
        n.pos = t.pos;
        return n;
      }
      case 'lparen': return this.pipeline('parenthesized pipeline', 'rparen');
      case 'string': case 'raw': {
        const s = unquote(t.val);
        if (s === undefined) this.fail('invalid syntax', t);
        return { type: 'string', pos: t.pos, value: s, quoted: t.val };
      }
      default: this.i--; return undefined;
    }
  }
}
