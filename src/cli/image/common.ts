/**
 * What the image commands share: the context (data root from BERTH_ROOT, registry options from
 * `<root>/daemon.json` or BERTH_CONFIG), output streams, error reporting with Docker's exit
 * codes, human sizes and durations, and a command runner that handles flags and `--help`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, debugStacks, describeError } from '../../lib/index.js';
import { closeContext, readDaemonConfig, type ImageContext, type ImageUse } from '../../image/index.js';
import { closeIdleConnections } from '../../image/registry/index.js';
import { defaultRoots, eventsAt, humanDuration, type ImageTarget } from '../../engine/index.js';
import { helpText, parseFlags, type FlagSpec, type ParsedFlags } from '../flags.js';

import { currentContext, io, slot, type IO } from '../context.js';

export { io, type IO };

export const DEFAULT_ROOT = '/var/lib/berth';

type ContextFactory = () => Promise<ImageContext>;

const defaultFactory: ContextFactory = async () => {
  const root = process.env.BERTH_ROOT || defaultRoots().root; // an ordinary user's: ~/.local/share/berth
  const cfg = await readDaemonConfig(process.env.BERTH_CONFIG || join(root, 'daemon.json'));
  return { ...cfg, root, inUse: (id) => engineImageUse(root, id) };
};

/**
 * The engine's answer to "does a container use this image?" for image commands that run without
 * an engine (`rmi`, `image prune`): its metadata store is opened only when asked, and only if the
 * data root has one.
 */
async function engineImageUse(root: string, id: string): Promise<ImageUse> {
  if (!existsSync(join(root, 'engine.db'))) return false;
  const { EngineCore } = await import('../../engine/index.js');
  const core = new EngineCore({ root });
  try {
    return await core.images.inUse?.(id);
  } finally {
    await core.close();
  }
}
const factory = slot<ContextFactory>('image-context');

/** Let the engine provide the context (e.g. with an `inUse` predicate over its containers). */
export function setContextFactory(f: ContextFactory): void {
  factory.set(f);
}

export function getContext(): Promise<ImageContext> {
  return (factory.get() ?? defaultFactory)();
}

/**
 * Run `body` on the images of `ctx` with the data root's event log, so that the engine's image use
 * cases record their events as under `berth serve` (the log is opened at the first event).
 */
export async function withImageEvents<T>(ctx: ImageContext, body: (t: ImageTarget) => Promise<T>): Promise<T> {
  const events = eventsAt(ctx.root);
  try {
    return await body({ images: ctx, events });
  } finally {
    events.close();
  }
}

export function print(s = ''): void {
  io.out.write(s + '\n');
}

export function printErr(s: string): void {
  io.err.write(s + '\n');
}

/** Report an error the way the docker CLI does; returns the exit status (125 for usage errors). */
export function report(err: unknown, command?: string): number {
  const code = reportLine(err, command);
  io.err.write(debugStacks(err));
  return code;
}

function reportLine(err: unknown, command?: string): number {
  if (err instanceof BerthError) {
    if (err.kind === 'usage') {
      // client-side errors: flag errors exit 125 like the docker CLI, the others 1
      printErr(err.message);
      return err.message.includes("\nSee '") ? 125 : 1;
    }
    printErr(`Error response from daemon: ${err.message}`);
    return 1;
  }
  // anything else: one line naming the cause, never a stack (unless --debug)
  printErr(`berth: ${command ? `${command}: ` : ''}${describeError(err)}`);
  return 1;
}

export interface CommandSpec {
  name: string;
  usage: string;
  description: string;
  flags: FlagSpec[];
  /** positional argument count: [min, max] (max -1 = any) */
  args: [number, number];
  stopAtFirstArg?: boolean;
  extraHelp?: string;
}

/** The docker CLI's message for a wrong number of arguments, or undefined when the count is right. */
export function argCountError(spec: CommandSpec, n: number): string | undefined {
  const [min, max] = spec.args;
  if (n >= min && (max < 0 || n <= max)) return undefined;
  const s = (k: number) => (k === 1 ? '' : 's');
  const want = min === max ? `exactly ${min} argument${s(min)}` : max < 0 ? `at least ${min} argument${s(min)}`
    : min > 0 ? `at least ${min} and at most ${max} argument${s(max)}` : `at most ${max} argument${s(max)}`;
  const command = `berth ${spec.name}`;
  return `"${command}" requires ${want}.\nSee '${command} --help'.\n\nUsage:  ${spec.usage}\n\n${spec.description}`;
}

/**
 * Parse a command's flags and check its argument count as the docker CLI does: the parsed flags,
 * or the exit status when the command is done already (help printed: 0; a usage error: 125 / 1).
 */
export function parseCommand(spec: CommandSpec, argv: string[]): ParsedFlags | number {
  let parsed: ParsedFlags;
  try {
    parsed = parseFlags(argv, spec.flags, { command: `berth ${spec.name}`, stopAtFirstArg: spec.stopAtFirstArg });
  } catch (err) {
    return report(err);
  }
  if (parsed.flags.help) {
    io.out.write(helpText(spec.usage, spec.description, spec.flags, spec.extraHelp));
    return 0;
  }
  const bad = argCountError(spec, parsed.args.length);
  if (bad) { printErr(bad); return 1; }
  return parsed;
}

/** Parse flags (printing help / usage errors) and run `body` with a context; returns the exit status. */
export async function runCommand(spec: CommandSpec, argv: string[], body: (p: ParsedFlags, ctx: ImageContext) => Promise<number | void>): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (typeof parsed === 'number') return parsed;
  let ctx: ImageContext | undefined;
  try {
    ctx = await getContext();
    return (await body(parsed, ctx)) ?? 0;
  } catch (err) {
    return report(err, spec.name);
  } finally {
    if (ctx) await closeContext(ctx).catch(() => {});
    // the worker runs other commands at once: their connections stay
    if (!currentContext()) closeIdleConnections();
  }
}

/** Docker's `units.HumanSizeWithPrecision` (decimal units). */
export function humanSize(bytes: number, precision = 3): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(precision))}${units[i]}`;
}


export { humanDuration };

export function since(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0) return 'N/A';
  return `${humanDuration(Date.now() - t)} ago`;
}

/** Docker's CreatedAt format: `2024-01-02 03:04:05 +0000 UTC`. */
export function createdAt(iso: string): string {
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return '';
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '') + ' +0000 UTC';
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Read all of stdin (for --password-stdin). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.in) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
