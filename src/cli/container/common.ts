/**
 * What the container commands share: one engine per process (data root, run root and config
 * from the global flags / environment / config file), the command runner with Docker's help and
 * argument checks, and error reporting (`Error response from daemon: …`, exit 1).
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Engine, type EngineCore } from '../../engine/index.js';
import { parseCommand, setContextFactory, io, print, printErr, report } from '../image/common.js';
import type { ParsedFlags } from '../flags.js';
import { slot } from '../context.js';
import type { CommandSpec } from '../image/common.js';

export { io, print, printErr, report, type CommandSpec };

const engineSlot = slot<Engine>('engine');

/** The argv that runs this CLI again (the monitor's exit command: `berth container cleanup ID`). */
export function selfCommand(): string[] | undefined {
  const script = process.argv[1];
  if (!script) return undefined;
  return (front ??= [frontBeside(script)])[0] ?? [process.execPath, script];
}

let front: [string[] | undefined] | undefined;

/**
 * The native front beside the bundle (dist/berth by dist/berth.cjs), so that a warm process on
 * the run root serves exit commands (a cold Node per container exit costs ~250 ms, and `docker
 * run --rm` waits for it); without one the front runs Node itself. Only when the front, which runs
 * exit commands with an empty environment (no PATH: /bin, /usr/bin), finds this same node.
 */
function frontBeside(script: string): string[] | undefined {
  if (basename(script) !== 'berth.cjs') return undefined;
  const bin = join(dirname(script), 'berth');
  const node = ['/bin/node', '/usr/bin/node'].find((p) => existsSync(p));
  try {
    return existsSync(bin) && node && realpathSync(node) === realpathSync(process.execPath) ? [bin] : undefined;
  } catch { return undefined; }
}

/** Keeps engines open across commands (the worker, see worker.ts); absent in a one-command process. */
export interface EngineCache {
  /** the open engine for these options, or a new one made by `make` and kept */
  get(make: () => Engine): Engine;
  /** the command is done with it */
  release(engine: Engine): void;
}

let engineCache: EngineCache | undefined;

export function setEngineCache(c: EngineCache | undefined): void {
  engineCache = c;
}

export function getEngine(): Engine {
  let engine = engineSlot.get();
  if (!engine) {
    const make = () => new Engine({ selfCommand: selfCommand() });
    engine = engineCache ? engineCache.get(make) : make();
    engineSlot.set(engine);
    const images = engine.core.images;
    setContextFactory(async () => images);
  }
  return engine;
}

export function core(): EngineCore {
  return getEngine().core;
}

export async function closeEngine(): Promise<void> {
  const e = engineSlot.get();
  engineSlot.set(undefined);
  if (!e) return;
  if (engineCache) engineCache.release(e);
  else await e.close();
}

/** Parse flags, check the argument count, run `body`; errors reported as the docker CLI does. */
export async function runEngineCommand(spec: CommandSpec, argv: string[], body: (p: ParsedFlags, core: EngineCore) => Promise<number | void>): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (typeof parsed === 'number') return parsed;
  try {
    return (await body(parsed, core())) ?? 0;
  } catch (err) {
    return report(err, spec.name);
  } finally {
    await closeEngine().catch(() => undefined);
  }
}

/** Apply `fn` to each argument, reporting failures and going on (Docker's multi-container commands). */
export async function eachArg(args: string[], fn: (ref: string) => Promise<void>): Promise<number> {
  let status = 0;
  for (const ref of args) {
    try { await fn(ref); } catch (err) { status = report(err); }
  }
  return status;
}
