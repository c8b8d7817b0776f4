/**
 * Go's text/template in TypeScript: `Template.parse(text, { funcs })`, then `execute(data)`.
 * Parse and execution errors are `TemplateError`s with Go's messages.
 */
import { TemplateError } from './errors.js';
import { State, type ExecEnv } from './exec.js';
import { builtins, type FuncMap, type TemplateFunc } from './funcs.js';
import type { ListNode } from './nodes.js';
import { Parser } from './parse.js';

export { TemplateError } from './errors.js';
export { builtins, dockerFuncs, headerFuncs, goJSON, type FuncMap, type Param, type TemplateFunc } from './funcs.js';
export { formatValue, sprint, sprintf, sprintln } from './fmt.js';
export { goStruct, isTrue, typeName } from './values.js';

export interface ParseOptions {
  /** the template's name (Go's `template.New(name)`); '' by default, as the docker CLI's */
  name?: string;
  /** functions beyond Go's builtins */
  funcs?: FuncMap;
}

/** Turn stack exhaustion and other stray errors into TemplateErrors: templates never crash the caller. */
function guard<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TemplateError) throw e;
    if (e instanceof RangeError) throw new TemplateError(`template: ${name}: template too deeply nested`);
    throw new TemplateError(`template: ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export interface ExecOptions {
  /** functions replacing the parsed-with ones by name (Go's `Funcs` after `Parse`) */
  funcs?: FuncMap;
  /** run this `define`d template instead of the root one */
  template?: string;
  /** Go's Option("missingkey=…"): 'error' makes a missing map key an error (docker inspect's fallback) */
  missingKey?: 'default' | 'error';
}

export class Template {
  private constructor(readonly name: string, private readonly text: string, private readonly trees: Map<string, ListNode>, private readonly funcs: Map<string, TemplateFunc>) {}

  static parse(text: string, opts: ParseOptions = {}): Template {
    const name = opts.name ?? '';
    const funcs = new Map<string, TemplateFunc>(Object.entries({ ...builtins, ...(opts.funcs ?? {}) }));
    return guard(name, () => {
      const p = new Parser(name, (f) => funcs.has(f));
      const root = p.parse(text);
      const trees = new Map(p.trees);
      // Go: the root tree is the named template unless it is empty and a define gave it a body
      if (!trees.has(name) || root.nodes.some((n) => n.type !== 'text' || n.text.trim())) trees.set(name, root);
      return new Template(name, text, trees, funcs);
    });
  }

  /** Names of the templates defined (the root one and `define`/`block` ones). */
  templates(): string[] { return [...this.trees.keys()]; }

  /** Run the template (or the named one) on `data`; `funcs` replace functions by name, as Go's `Funcs`. */
  execute(data: unknown, opts: ExecOptions = {}): string {
    const r = this.executePartial(data, opts);
    if (r.error) throw r.error;
    return r.output;
  }

  /** Like `execute`, but an error comes back with the output written before it (as Go's Execute leaves it). */
  executePartial(data: unknown, opts: ExecOptions = {}): { output: string; error?: TemplateError } {
    const name = opts.template ?? this.name;
    const funcs = opts.funcs ? new Map([...this.funcs, ...Object.entries(opts.funcs)]) : this.funcs;
    const env: ExecEnv = { parseName: this.name, text: this.text, trees: this.trees, funcs, builtins: new Set(Object.keys(builtins).filter((k) => funcs.get(k) === builtins[k])), missingKeyError: opts.missingKey === 'error' };
    const tree = this.trees.get(name);
    if (!tree) return { output: '', error: new TemplateError(`template: no template ${JSON.stringify(name)} associated with template ${JSON.stringify(this.name)}`) };
    const st = new State(env, name, data);
    try {
      guard(name, () => st.walk(data, tree));
      return { output: st.out.join('') };
    } catch (e) {
      return { output: st.out.join(''), error: e as TemplateError };
    }
  }
}

/** Parse and execute in one step. */
export function renderGoTemplate(text: string, data: unknown, opts: ParseOptions = {}): string {
  return Template.parse(text, opts).execute(data);
}
