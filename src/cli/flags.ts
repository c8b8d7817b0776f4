/**
 * A small Docker-style (cobra/pflag) flag parser: `--name=v`, `--name v`, bool flags
 * (`--x`, `--x=false`), repeated flags, short flags with attached values (`-ofile`, `-o=file`),
 * combined short bools (`-it`), `--` ends the flags, `-` alone is an argument.
 */
import { usage } from '../lib/index.js';

export type FlagType = 'bool' | 'string' | 'strings' | 'int';

export interface FlagSpec {
  /** long name, without dashes */
  name: string;
  /** one-letter shorthand */
  short?: string;
  type: FlagType;
  default?: boolean | string | string[] | number;
  /** help text; omitted = hidden flag */
  help?: string;
  /** value placeholder in help (`string`, `list`, …) */
  metavar?: string;
}

export type FlagValue = boolean | string | string[] | number;

export interface ParsedFlags {
  flags: Record<string, FlagValue>;
  /** positional arguments */
  args: string[];
  /** names of flags given explicitly */
  set: Set<string>;
}

export interface ParseOptions {
  /** command path for messages (`berth images`) */
  command: string;
  /** stop at the first positional argument (like `docker run IMAGE CMD…`) */
  stopAtFirstArg?: boolean;
}

const HELP: FlagSpec = { name: 'help', type: 'bool', help: 'Print usage' };

function flagErr(o: ParseOptions, message: string): Error {
  return usage(o.command, `${message}\nSee '${o.command} --help'.`);
}

function boolValue(o: ParseOptions, spec: FlagSpec, v: string): boolean {
  const s = v.toLowerCase();
  if (['1', 't', 'true'].includes(s)) return true;
  if (['0', 'f', 'false'].includes(s)) return false;
  throw flagErr(o, `invalid argument "${v}" for "${describe(spec)}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}

function describe(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

export function parseFlags(argv: string[], specs: FlagSpec[], o: ParseOptions): ParsedFlags {
  const all = specs.some((s) => s.name === 'help') ? specs : [...specs, HELP];
  const byLong = new Map(all.map((s) => [s.name, s]));
  const byShort = new Map(all.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: Record<string, FlagValue> = {};
  for (const s of all) {
    if (s.default !== undefined) flags[s.name] = Array.isArray(s.default) ? [...s.default] : s.default;
    else flags[s.name] = s.type === 'bool' ? false : s.type === 'strings' ? [] : s.type === 'int' ? 0 : '';
  }
  const set = new Set<string>();
  const args: string[] = [];
  const assign = (spec: FlagSpec, value: string) => {
    if (spec.type === 'bool') flags[spec.name] = boolValue(o, spec, value);
    else if (spec.type === 'int') {
      if (!/^-?\d+$/.test(value)) throw flagErr(o, `invalid argument "${value}" for "${describe(spec)}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
      flags[spec.name] = Number(value);
    } else if (spec.type === 'strings') {
      if (!set.has(spec.name)) flags[spec.name] = [];
      (flags[spec.name] as string[]).push(value);
    } else flags[spec.name] = value;
    set.add(spec.name);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const spec = byLong.get(name);
      if (!spec) throw flagErr(o, `unknown flag: --${name}`);
      if (eq >= 0) assign(spec, a.slice(eq + 1));
      else if (spec.type === 'bool') assign(spec, 'true');
      else {
        if (i + 1 >= argv.length) throw flagErr(o, `flag needs an argument: --${name}`);
        assign(spec, argv[++i]!);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const spec = byShort.get(c);
        if (!spec) throw flagErr(o, `unknown shorthand flag: '${c}' in ${a}`);
        if (spec.type === 'bool') {
          if (a[j + 1] === '=') {
            assign(spec, a.slice(j + 2));
            break;
          }
          assign(spec, 'true');
          continue;
        }
        let value = a.slice(j + 1);
        if (value.startsWith('=')) value = value.slice(1);
        else if (!value) {
          if (i + 1 >= argv.length) throw flagErr(o, `flag needs an argument: '${c}' in -${c}`);
          value = argv[++i]!;
        }
        assign(spec, value);
        break;
      }
      continue;
    }
    args.push(a);
    if (o.stopAtFirstArg) {
      args.push(...argv.slice(i + 1));
      break;
    }
  }
  return { flags, args, set };
}

/** Help text in Docker's layout. */
export function helpText(usageLine: string, description: string, specs: FlagSpec[], extra = ''): string {
  const shown = [...specs.filter((s) => s.help), HELP].sort((a, b) => a.name.localeCompare(b.name));
  const left = shown.map((s) => {
    const meta = s.type === 'bool' ? '' : ` ${s.metavar ?? (s.type === 'strings' ? 'list' : s.type === 'int' ? 'int' : 'string')}`;
    return `${s.short ? `-${s.short}, ` : '    '}--${s.name}${meta}`;
  });
  const w = Math.max(...left.map((l) => l.length));
  const lines = shown.map((s, i) => {
    const def = s.default !== undefined && s.default !== false && s.default !== '' && !(Array.isArray(s.default) && !s.default.length)
      ? ` (default ${typeof s.default === 'string' ? JSON.stringify(s.default) : Array.isArray(s.default) ? `[${s.default.join(',')}]` : s.default})` : '';
    return `  ${left[i]!.padEnd(w)}   ${s.help}${def}`;
  });
  return `\nUsage:  ${usageLine}\n\n${description}\n${extra ? `\n${extra}\n` : ''}\nOptions:\n${lines.join('\n')}\n`;
}

export function str(p: ParsedFlags, name: string): string {
  return p.flags[name] as string;
}

export function bool(p: ParsedFlags, name: string): boolean {
  return p.flags[name] as boolean;
}

export function strs(p: ParsedFlags, name: string): string[] {
  return p.flags[name] as string[];
}

export function int(p: ParsedFlags, name: string): number {
  return p.flags[name] as number;
}
