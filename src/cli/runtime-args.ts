/** runc-style argument parsing: flags before positional arguments (urfave/cli v1 rules). */
import { usage } from '../lib/index.js';

export interface FlagSpec {
  /** Names without dashes; the first is canonical. */
  names: string[];
  value?: boolean;
  repeat?: boolean;
}

export interface Parsed {
  flags: Record<string, string | boolean | string[]>;
  args: string[];
}

export function parseFlags(cmd: string, argv: string[], specs: FlagSpec[]): Parsed {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const flags: Parsed['flags'] = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { i++; break; }
    if (!a.startsWith('-') || a === '-') break;
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (!spec) throw usage(cmd, `${cmd}: flag provided but not defined: -${name}`);
    const key = spec.names[0]!;
    let value: string | boolean;
    if (spec.value) {
      if (eq >= 0) value = body.slice(eq + 1);
      else {
        if (i + 1 >= argv.length) throw usage(cmd, `${cmd}: flag needs an argument: -${name}`);
        value = argv[++i]!;
      }
    } else {
      value = eq >= 0 ? !['false', '0', ''].includes(body.slice(eq + 1)) : true;
    }
    if (spec.repeat) flags[key] = [...((flags[key] as string[] | undefined) ?? []), String(value)];
    else flags[key] = value;
  }
  return { flags, args: argv.slice(i) };
}

export function str(p: Parsed, k: string): string | undefined {
  const v = p.flags[k];
  return typeof v === 'string' ? v : undefined;
}
export function bool(p: Parsed, k: string): boolean { return p.flags[k] === true; }
export function list(p: Parsed, k: string): string[] { return (p.flags[k] as string[] | undefined) ?? []; }
export function int(p: Parsed, k: string, cmd: string): number | undefined {
  const v = str(p, k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw usage(cmd, `${cmd}: invalid value ${JSON.stringify(v)} for flag -${k}: not an integer`);
  return n;
}
