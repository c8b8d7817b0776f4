/**
 * Test fixture: a `berth worker` (the compiled CLI) on its own socket, and the native front
 * (dist/berth) that hands commands to it. `stop()` sends SIGTERM and waits for the worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI entry point (build/src/cli/berth-main.js). */
export const BERTH_MAIN = fileURLToPath(new URL('../../src/cli/berth-main.js', import.meta.url));
/** The native front, next to the bundle it falls back to (dist/berth, dist/berth.cjs). */
export const FRONT = fileURLToPath(new URL('../../../dist/berth', import.meta.url));

export interface Worker {
  proc: ChildProcess;
  socket: string;
  /** the environment for the front: BERTH_WORKER_SOCKET set, BERTH_NO_WORKER unset */
  env: NodeJS.ProcessEnv;
  /** what the worker printed on stderr so far */
  log(): string;
  stop(): Promise<number | null>;
}

export function haveFront(): boolean {
  return existsSync(FRONT) && existsSync(join(FRONT, '..', 'berth.cjs'));
}

export async function startWorker(env: NodeJS.ProcessEnv, socket: string, args: string[] = []): Promise<Worker> {
  const proc = spawn(process.execPath, [BERTH_MAIN, 'worker', '--socket', socket, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const end = Date.now() + 20_000;
  while (!log.includes('listening on')) {
    if (proc.exitCode !== null) throw new Error(`berth worker exited ${proc.exitCode}: ${log}`);
    if (Date.now() > end) { proc.kill('SIGKILL'); throw new Error(`berth worker did not listen: ${log}`); }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    proc, socket, env: { ...env, BERTH_WORKER_SOCKET: socket, BERTH_NO_WORKER: undefined }, log: () => log,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}
