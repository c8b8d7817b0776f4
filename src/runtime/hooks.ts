/** Lifecycle hooks run in the runtime namespace (prestart, createRuntime, poststart, poststop). */
import { spawn } from 'node:child_process';
import { BerthError } from '../lib/index.js';
import type { Hook } from '../oci/index.js';
import { step, type Step } from '../sys/index.js';

export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

function runOne(kind: HookKind, index: number, hook: Hook, stateJson: string): Promise<void> {
  const what = `run ${kind} hook #${index} ${hook.path}`;
  return new Promise((resolve, reject) => {
    const args = hook.args && hook.args.length ? hook.args : [hook.path];
    let child;
    try {
      child = spawn(hook.path, args.slice(1), { argv0: args[0], env: envObject(hook.env), stdio: ['pipe', 'inherit', 'inherit'] });
    } catch (e) {
      reject(new BerthError({ kind: 'hook', op: what, path: hook.path, message: `${what}: ${(e as Error).message}` }));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (hook.timeout && hook.timeout > 0) timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, hook.timeout * 1000);
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(new BerthError({ kind: 'hook', op: what, path: hook.path, code: e.code, message: `${what}: ${e.code === 'ENOENT' ? 'no such file' : e.message}` }));
    });
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) return resolve();
      const why = timedOut ? `timed out after ${hook.timeout}s` : signal ? `killed by ${signal}` : `exit status ${code}`;
      reject(new BerthError({ kind: 'hook', op: what, path: hook.path, message: `${what}: ${why}` }));
    });
    child.stdin!.on('error', () => { /* a hook need not read its stdin */ });
    child.stdin!.end(stateJson);
  });
}

function envObject(env?: string[]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const kv of env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Run hooks in order; the first failure throws (unless `warnOnly`, where failures are returned). */
export async function runHooks(kind: HookKind, hooks: Hook[] | undefined, stateJson: string, warnOnly = false): Promise<BerthError[]> {
  const errors: BerthError[] = [];
  for (const [i, h] of (hooks ?? []).entries()) {
    try { await runOne(kind, i, h, stateJson); } catch (e) {
      if (!warnOnly) throw e;
      errors.push(e as BerthError);
    }
  }
  return errors;
}

/** Plan steps for hooks the helper runs inside the container (createContainer, startContainer). */
export function hookSteps(kind: HookKind, hooks: Hook[] | undefined): Step[] {
  return (hooks ?? []).map((h, i) => {
    const args = h.args && h.args.length ? h.args : [h.path];
    const env = h.env ?? [];
    return step('hook', [h.path, h.timeout ?? 0, args.length, ...args, env.length, ...env], `run ${kind} hook #${i} ${h.path}`, h.path);
  });
}
