/** Executes parsed templates with Go's text/template semantics. */
import { TemplateError } from './errors.js';
import { formatValue, quote } from './fmt.js';
import type { Param, TemplateFunc } from './funcs.js';
import { nodeString, type Arg, type BranchNode, type ChainNode, type FieldNode, type ListNode, type Node, type PipeNode, type TemplateNode, type VariableNode } from './nodes.js';
import { Float64, isTrue, kindOf, mapEntries, typeName } from './values.js';

const MISSING = Symbol('missing');
const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');
export const MAX_DEPTH = 1000;

type Val = unknown;
type Final = Val | typeof MISSING;

export interface ExecEnv {
  /** the name the text was parsed under (error locations) and the text itself */
  parseName: string;
  text: string;
  trees: Map<string, ListNode>;
  funcs: Map<string, TemplateFunc>;
  builtins: Set<string>;
  /** Go's Option("missingkey=error"): a missing map key is an error instead of <no value> */
  missingKeyError?: boolean;
}

export class State {
  private vars: { name: string; value: Val }[];
  private node: Node | null = null;
  readonly out: string[];

  constructor(private readonly env: ExecEnv, private readonly name: string, dot: Val, private readonly depth = 0, out: string[] = []) {
    this.vars = [{ name: '$', value: dot }];
    this.out = out;
  }

  private at(n: Node): void { this.node = n; }

  errorf(msg: string): never {
    if (!this.node) throw new TemplateError(`template: ${this.name}: ${msg}`);
    const pos = this.node.pos;
    const before = this.env.text.slice(0, pos);
    const nl = before.lastIndexOf('\n');
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = nl < 0 ? pos : pos - nl - 1;
    const ctx = nodeString(this.node);
    throw new TemplateError(`template: ${this.env.parseName}:${line}:${col}: executing ${quote(this.name)} at <${ctx}>: ${msg}`);
  }

  walk(dot: Val, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'list': for (const n of node.nodes) this.walk(dot, n); return;
      case 'text': this.out.push(node.text); return;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, v);
        return;
      }
      case 'if': case 'with': return this.walkIfOrWith(dot, node);
      case 'range': return this.walkRange(dot, node);
      case 'template': return this.walkTemplate(dot, node);
      case 'break': throw BREAK;
      case 'continue': throw CONTINUE;
      default: this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  private printValue(node: Node, v: Val): void {
    this.at(node);
    if (v === undefined) { this.out.push('<no value>'); return; }
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(node)} of type ${typeName(v)}`);
    this.out.push(formatValue(v));
  }

  private walkIfOrWith(dot: Val, node: BranchNode): void {
    const mark = this.vars.length;
    try {
      const v = this.evalPipeline(dot, node.pipe);
      if (isTrue(v)) this.walk(node.type === 'with' ? v : dot, node.list);
      else if (node.elseList) this.walk(dot, node.elseList);
    } finally { this.vars.length = mark; }
  }

  private walkRange(dot: Val, r: BranchNode): void {
    this.at(r);
    const outer = this.vars.length;
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.vars.length;
      const decl = r.pipe.decl;
      const one = (index: Val, elem: Val): boolean => {
        if (decl.length > 0) {
          if (r.pipe.isAssign) this.setVar(decl[0]!.idents[0]!, decl.length > 1 ? index : elem);
          else this.vars[this.vars.length - 1]!.value = elem;
        }
        if (decl.length > 1) {
          if (r.pipe.isAssign) this.setVar(decl[1]!.idents[0]!, elem);
          else this.vars[this.vars.length - 2]!.value = index;
        }
        try { this.walk(elem, r.list); } catch (e) {
          if (e === BREAK) return false;
          if (e !== CONTINUE) throw e;
        } finally { this.vars.length = mark; }
        return true;
      };
      let n = 0;
      switch (kindOf(val)) {
        case 'slice': for (const [i, x] of [...(val as unknown[])].entries()) { n++; if (!one(i, x)) break; } break;
        case 'map': for (const [k, x] of mapEntries(val as object)) { n++; if (!one(k, x)) break; } break;
        case 'int': {
          if (decl.length > 1) this.errorf(`can't use ${formatValue(val)} to iterate over more than one variable`);
          for (let i = 0; i < (val as number); i++) { n++; if (!one(i, i)) break; }
          break;
        }
        case 'invalid': case 'nil': break;
        default: this.errorf(`range can't iterate over ${formatValue(val)}`);
      }
      if (n === 0 && r.elseList) this.walk(dot, r.elseList);
    } finally { this.vars.length = outer; }
  }

  private walkTemplate(dot: Val, t: TemplateNode): void {
    this.at(t);
    const tree = this.env.trees.get(t.name);
    if (!tree) this.errorf(`template ${quote(t.name)} not defined`);
    if (this.depth >= MAX_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
    const d = t.pipe ? this.evalPipeline(dot, t.pipe) : undefined;
    new State(this.env, t.name, d, this.depth + 1, this.out).walk(d, tree);
  }

  private setVar(name: string, value: Val): void {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) { this.vars[i]!.value = value; return; }
    this.errorf(`undefined variable: ${name}`);
  }

  private varValue(name: string): Val {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.errorf(`undefined variable: ${name}`);
  }

  private evalPipeline(dot: Val, pipe: PipeNode): Val {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd.args, cmd, value);
    const v = value === MISSING ? undefined : value;
    for (const d of pipe.decl) {
      if (pipe.isAssign) this.setVar(d.idents[0]!, v); else this.vars.push({ name: d.idents[0]!, value: v });
    }
    return v;
  }

  private notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  private evalCommand(dot: Val, args: Arg[], cmd: Node, final: Final): Val {
    const first = args[0]!;
    switch (first.type) {
      case 'field': return this.evalFieldNode(dot, first, args, final);
      case 'chain': return this.evalChainNode(dot, first, args, final);
      case 'identifier': return this.evalFunction(dot, first.name, first, cmd, args, final);
      case 'pipe': this.notAFunction(args, final); return this.evalPipeline(dot, first);
      case 'variable': return this.evalVariableNode(dot, first, args, final);
      default: break;
    }
    this.at(first);
    this.notAFunction(args, final);
    switch (first.type) {
      case 'bool': return first.value;
      case 'dot': return dot;
      case 'nil': return this.errorf('nil is not a command');
      case 'number': return first.float ? new Float64(first.value) : first.value;
      case 'string': return first.value;
    }
  }

  private evalArg(dot: Val, n: Arg): Val {
    this.at(n);
    switch (n.type) {
      case 'dot': return dot;
      case 'nil': return null;
      case 'field': return this.evalFieldNode(dot, n, [n], MISSING);
      case 'variable': return this.evalVariableNode(dot, n, [], MISSING);
      case 'pipe': return this.evalPipeline(dot, n);
      case 'identifier': return this.evalFunction(dot, n.name, n, n, [n], MISSING);
      case 'chain': return this.evalChainNode(dot, n, [], MISSING);
      case 'number': return n.float ? new Float64(n.value) : n.value;
      case 'bool': case 'string': return n.value;
    }
  }

  private evalFieldNode(dot: Val, field: FieldNode, args: Arg[], final: Final): Val {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.idents, args, final);
  }

  private evalChainNode(dot: Val, chain: ChainNode, args: Arg[], final: Final): Val {
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const recv = this.evalArg(dot, chain.node);
    return this.evalFieldChain(dot, recv, chain, chain.fields, args, final);
  }

  private evalVariableNode(dot: Val, v: VariableNode, args: Arg[], final: Final): Val {
    this.at(v);
    const value = this.varValue(v.idents[0]!);
    if (v.idents.length === 1) { this.notAFunction(args, final); return value; }
    return this.evalFieldChain(dot, value, v, v.idents.slice(1), args, final);
  }

  private evalFieldChain(dot: Val, recv: Val, node: Node, idents: string[], args: Arg[], final: Final): Val {
    for (let i = 0; i < idents.length - 1; i++) recv = this.evalField(dot, idents[i]!, node, [], MISSING, recv);
    return this.evalField(dot, idents[idents.length - 1]!, node, args, final, recv);
  }

  private evalField(dot: Val, name: string, node: Node, args: Arg[], final: Final, recv: Val): Val {
    if (recv === undefined) {
      if (this.env.missingKeyError) this.errorf(`nil data; no entry for key ${quote(name)}`);
      return undefined;
    }
    if (recv === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    const k = kindOf(recv);
    const o = recv as Record<string, unknown>;
    const own = (k === 'map' && !(recv instanceof Map) && Object.prototype.hasOwnProperty.call(o, name))
      || (k === 'struct' && name in o && !(name in Object.prototype));
    if (k === 'struct' && own && typeof o[name] === 'function') {
      const m = o[name] as (...a: unknown[]) => unknown;
      // a method may declare Go parameter types: Object.assign(fn, { params: ['string'] })
      const declared = (m as { params?: Param[] }).params;
      const def: TemplateFunc = { params: declared ?? Array<Param>(m.length).fill('any'), fn: (...a: unknown[]) => m.apply(recv, a) };
      return this.evalCall(dot, def, false, node, name, args, final);
    }
    const hasArgs = args.length > 1 || final !== MISSING;
    if (k === 'struct' && own) {
      if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
      return o[name];
    }
    if (k === 'map') {
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      const has = recv instanceof Map ? recv.has(name) : own;
      if (!has && this.env.missingKeyError) this.errorf(`map has no entry for key ${quote(name)}`);
      return recv instanceof Map ? recv.get(name) : own ? o[name] : undefined;
    }
    this.errorf(`can't evaluate field ${name} in type ${typeName(recv)}`);
  }

  private evalFunction(dot: Val, name: string, ident: Node, cmd: Node, args: Arg[], final: Final): Val {
    this.at(ident);
    const def = this.env.funcs.get(name);
    if (!def) this.errorf(`"${name}" is not a defined function`);
    return this.evalCall(dot, def, this.env.builtins.has(name), cmd, name, args, final);
  }

  private check(v: Val, p: Param): Val {
    const want = p === 'strings' ? '[]string' : p;
    if (p === 'any') return v === undefined ? null : v;
    if (p === 'int' && v instanceof Float64 && Number.isInteger(v.value)) return v.value;
    if (v === undefined || (v === null && p !== 'strings')) this.errorf(`invalid value; expected ${want}`);
    const ok = p === 'string' ? typeof v === 'string' : p === 'int' ? typeof v === 'number' && Number.isInteger(v)
      : v === null || Array.isArray(v);
    if (!ok) this.errorf(`wrong type for value; expected ${want}; got ${typeName(v)}`);
    if (p === 'strings') return ((v ?? []) as unknown[]).map((x) => (typeof x === 'string' ? x : formatValue(x)));
    return v;
  }

  private evalCall(dot: Val, def: TemplateFunc, builtin: boolean, node: Node, name: string, args: Arg[], final: Final): Val {
    const argNodes = args.slice(1);
    const numIn = argNodes.length + (final === MISSING ? 0 : 1);
    const fixed = def.params.length;
    if (def.variadic) {
      if (numIn < fixed) this.errorf(`wrong number of args for ${name}: want at least ${fixed} got ${numIn}`);
    } else if (numIn !== fixed) this.errorf(`wrong number of args for ${name}: want ${fixed} got ${numIn}`);
    const type = (i: number): Param => (i < fixed ? def.params[i]! : def.variadic!);
    if (builtin && (name === 'and' || name === 'or')) {
      let v: Val;
      for (const a of argNodes) {
        v = this.evalArg(dot, a);
        if (isTrue(v) === (name === 'or')) return v;
      }
      return final !== MISSING ? final : v;
    }
    if (builtin && name === 'call' && argNodes[0]) {
      const fn = this.evalArg(dot, argNodes[0]);
      if (fn !== null && fn !== undefined && typeof fn !== 'function') {
        this.at(node);
        this.errorf(`error calling call: non-function ${nodeString(argNodes[0])} of type ${typeName(fn)}`);
      }
    }
    const values = argNodes.map((a, i) => {
      const p = type(i);
      if ((p === 'string' || p === 'int') && ['number', 'string', 'bool', 'nil'].includes(a.type)) {
        this.at(a);
        const lit = a as Extract<Arg, { type: 'number' | 'string' | 'bool' | 'nil' }>;
        if (lit.type === 'nil') this.errorf(`cannot assign nil to ${p}`);
        if (p === 'string' && lit.type !== 'string') this.errorf(`expected string; found ${nodeString(a)}`);
        if (p === 'int' && !(lit.type === 'number' && lit.isInt)) this.errorf(`expected integer; found ${nodeString(a)}`);
      }
      return this.check(this.evalArg(dot, a), p);
    });
    if (final !== MISSING) { this.at(node); values.push(this.check(final, type(values.length))); }
    try {
      return def.fn(...values);
    } catch (e) {
      if (e instanceof TemplateError || e === BREAK || e === CONTINUE) throw e;
      this.at(node);
      return this.errorf(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
