/**
 * What the system commands share: Docker's confirmation prompt, its size units, `--filter`
 * parsing, single-object `--format` rendering, and the subcommand dispatcher with Docker's help.
 */
import { parseFilters, type Filters } from '../../engine/store/index.js';
import { strs, type ParsedFlags } from '../flags.js';
import { humanSize, io, print, printErr } from '../image/common.js';
import { parseOrStatus, renderInspect, runFormat } from '../image/format.js';

/** Docker's `units.HumanSize` (decimal, 4 significant digits): prune totals, `system df`. */
export function humanSize4(bytes: number): string {
  return humanSize(bytes, 4);
}

/** Docker's `units.BytesSize` (binary units, 4 significant digits): `info`'s Total Memory. */
export function bytesSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** `--filter key=value` flags as Docker filters. */
export function filtersOf(p: ParsedFlags, op: string, flag = 'filter'): Filters {
  return parseFilters(strs(p, flag), op);
}

/**
 * Docker's PromptForConfirmation: `MESSAGE [y/N] `, then one line from stdin; only `y`/`Y`
 * confirms. End of input (or no input) answers no.
 */
export async function confirm(message: string): Promise<boolean> {
  io.out.write(`${message} [y/N] `);
  const input = io.in as NodeJS.ReadStream;
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const finish = () => {
      input.off('data', onData);
      input.off('end', finish);
      input.off('close', finish);
      input.off('error', finish);
      input.pause?.();
      resolve(buf.split('\n')[0] ?? '');
    };
    const onData = (c: Buffer | string) => {
      buf += c.toString();
      if (buf.includes('\n')) finish();
    };
    input.on('data', onData);
    input.on('end', finish);
    input.on('close', finish);
    input.on('error', finish);
  });
  return line.trim().toLowerCase() === 'y';
}

/**
 * `--format` for one object (`info`, `version`): `json` is `{{json .}}`; a newline follows, as
 * Docker's. A template that does not parse: Docker's message printed, and the status (64) returned.
 * An execution error is Docker's bare `template: …` (exit 1).
 */
export function formatOne(format: string, obj: unknown, name = ''): string | number {
  const f = format.trim() === 'json' ? '{{json .}}' : format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const t = parseOrStatus(f, name);
  return typeof t === 'number' ? t : runFormat(t, obj, { parse: '', exec: '' }) + '\n';
}

/** Keys in sorted order (Go's encoding/json sorts map keys; Docker's `--format json` rows are maps). */
export function sortedKeys<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]])) as T;
}

export type Sub = (argv: string[], name: string) => Promise<number>;

/** `berth GROUP COMMAND`: Docker's management-command help and unknown-command message. */
export async function dispatch(group: string, description: string, subs: Record<string, [string, Sub]>, aliases: Record<string, string>, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    const w = Math.max(...Object.keys(subs).map((k) => k.length)) + 2;
    print(`\nUsage:  berth ${group} COMMAND\n\n${description}\n\nCommands:\n${Object.entries(subs).map(([k, [d]]) => `  ${k.padEnd(Math.max(w, 12))}${d}`).join('\n')}\n\nRun 'berth ${group} COMMAND --help' for more information on a command.`);
    return sub === undefined ? 1 : 0;
  }
  const name = aliases[sub] ?? sub;
  const entry = subs[name];
  if (!entry) {
    printErr(`berth ${group}: '${sub}' is not a berth ${group} command.\nSee 'berth ${group} --help'`);
    return 1;
  }
  return entry[1](rest, `${group} ${name}`);
}

/** `X inspect [-f FORMAT] REF...`: Docker indents inspect JSON with 4 spaces; the errors follow
 *  the objects that were found (exit 1 when any). */
export function printInspected(format: string, refs: string[], inspect: (ref: string) => Record<string, unknown>): number {
  const tpl = format && format !== 'json' ? parseOrStatus(format) : undefined;
  if (typeof tpl === 'number') return tpl;
  const found: Record<string, unknown>[] = [];
  const errors: string[] = [];
  for (const a of refs) {
    try { found.push(inspect(a)); } catch (e) { errors.push(`Error response from daemon: ${(e as Error).message}`); }
  }
  if (!tpl) io.out.write(JSON.stringify(found, null, 4) + '\n');
  else io.out.write(renderInspect(tpl, found));
  for (const e of errors) printErr(e);
  return errors.length ? 1 : 0;
}
