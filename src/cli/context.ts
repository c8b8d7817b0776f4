/**
 * The per-command context of the CLI. A command run by `berth` in its own process uses the
 * process's streams, environment and signals; a command handed to the warm worker (`berth
 * worker`, see worker.ts) runs with its client's instead. Commands reach them only through
 * `io`, `process.env` (made context-aware by `installEnvProxy`) and `onSignal`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';

export interface IO {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  err: NodeJS.WritableStream & { isTTY?: boolean };
  in: NodeJS.ReadableStream & { isTTY?: boolean };
}

export interface CliContext {
  io: IO;
  /** the client's environment (global flags write to it) */
  env: NodeJS.ProcessEnv;
  /** signals the client forwards ('SIGINT', …) */
  signals: EventEmitter;
  /** per-command singletons (the engine, the image context factory) */
  slots: Map<string, unknown>;
  /** performance.now() when the command arrived (trace marks count from it) */
  startedAt?: number;
}

const als = new AsyncLocalStorage<CliContext>();

export function currentContext(): CliContext | undefined {
  return als.getStore();
}

export function runInContext<T>(ctx: CliContext, fn: () => T): T {
  return als.run(ctx, fn);
}

/** The streams of the current command. */
export const io: IO = {
  get out() { return als.getStore()?.io.out ?? process.stdout; },
  get err() { return als.getStore()?.io.err ?? process.stderr; },
  get in() { return als.getStore()?.io.in ?? process.stdin; },
};

/**
 * Listen for a signal sent to the current command; returns the remover. 'hangup': the worker's
 * client went away (a command in its own process would have been killed with it).
 */
export function onSignal(sig: NodeJS.Signals | 'hangup', h: () => void, once = false): () => void {
  const target: NodeJS.EventEmitter = als.getStore()?.signals ?? process;
  if (once) target.once(sig, h); else target.on(sig, h);
  return () => { target.off(sig, h); };
}

const processSlots = new Map<string, unknown>();

/** A per-command singleton (per process outside the worker). */
export function slot<T>(name: string): { get(): T | undefined; set(v: T | undefined): void } {
  const map = () => als.getStore()?.slots ?? processSlots;
  return {
    get: () => map().get(name) as T | undefined,
    set: (v) => { if (v === undefined) map().delete(name); else map().set(name, v); },
  };
}

let proxied = false;

/**
 * Make `process.env` read and write the current command's environment (the worker: each command
 * has its client's). Child processes spawned without an explicit env get it too.
 */
export function installEnvProxy(): void {
  if (proxied) return;
  proxied = true;
  const base = process.env;
  const target = (): NodeJS.ProcessEnv => als.getStore()?.env ?? base;
  const proxy = new Proxy(base, {
    get: (_t, k) => (typeof k === 'string' ? target()[k] : undefined),
    set: (_t, k, v) => { if (typeof k === 'string') target()[k] = String(v); return true; },
    has: (_t, k) => typeof k === 'string' && k in target(),
    deleteProperty: (_t, k) => { if (typeof k === 'string') delete target()[k]; return true; },
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_t, k) => {
      if (typeof k !== 'string') return undefined;
      const t = target();
      return Object.prototype.hasOwnProperty.call(t, k) ? { value: t[k], writable: true, enumerable: true, configurable: true } : undefined;
    },
  });
  Object.defineProperty(process, 'env', { value: proxy, writable: true, configurable: true, enumerable: true });
}
