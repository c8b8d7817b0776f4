/**
 * Wiring an attach connection to this terminal: raw mode, resize and the detach keys with a tty,
 * signal proxying without one. Shared by run, start -a and attach.
 */
import { io, onSignal } from '../context.js';
import { spawnSync } from 'node:child_process';
import type { MonitorAttach } from '../../sys/index.js';
import { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from '../../lib/index.js';
import { exitCodeOf, settle, type EngineCore } from '../../engine/index.js';

export { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../lib/index.js';

/**
 * Raw mode as Docker's (cfmakeraw): libuv's raw mode keeps output post-processing (ONLCR), which
 * would turn the container's `\r\n` into `\r\r\n`; stty clears it (libuv restores the saved
 * termios, OPOST included, when raw mode ends).
 */
export function makeRaw(): void {
  (io.in as NodeJS.ReadStream).setRawMode(true);
  spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
}

export interface TerminalWiring {
  /** resolves true when the user detached with the detach keys */
  detached: Promise<boolean>;
  /** undo raw mode, listeners, stdin reading */
  restore(): void;
}

export interface WireOptions {
  tty: boolean;
  stdin: boolean;
  detachKeys?: string;
  /** pid to forward signals to (sig-proxy, without a tty) */
  proxyPid?: number;
}

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export function wireTerminal(conn: MonitorAttach, o: WireOptions): TerminalWiring {
  const stdin = io.in as NodeJS.ReadStream;
  const out = io.out as NodeJS.WriteStream;
  const err = io.err;
  conn.stdout.pipe(out, { end: false });
  conn.stderr.pipe(err, { end: false });
  let resolveDetached!: (b: boolean) => void;
  const detached = new Promise<boolean>((r) => { resolveDetached = r; });
  const cleanups: Array<() => void> = [];
  const raw = o.tty && o.stdin && stdin.isTTY;
  if (raw) { makeRaw(); cleanups.push(() => stdin.setRawMode(false)); }
  if (o.tty && out.isTTY) {
    const resize = () => { try { conn.resize(out.rows, out.columns); } catch { /* gone */ } };
    resize();
    out.on('resize', resize);
    cleanups.push(() => out.off('resize', resize));
  }
  if (o.stdin) {
    // Docker and podman apply the detach keys only with a tty: without one stdin is data, and a
    // ctrl-p ctrl-q in piped input must reach the container (not detach and leave it running)
    const parsed = parseDetachKeys(o.detachKeys || DEFAULT_DETACH_KEYS); // refused when malformed, tty or not
    const scan = o.tty ? new DetachScanner(parsed) : undefined;
    const onData = !scan ? (d: Buffer) => { conn.write(d); } : (d: Buffer) => {
      const { pass, detached } = scan.feed(d);
      if (pass.length) conn.write(pass);
      if (detached) resolveDetached(true);
    };
    const onEnd = () => conn.closeStdin();
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    cleanups.push(() => { stdin.off('data', onData); stdin.off('end', onEnd); stdin.pause(); stdin.unref?.(); });
    stdin.resume();
  }
  if (!o.tty && o.proxyPid) {
    const pid = o.proxyPid;
    const handlers = PROXIED.filter((s) => s !== 'SIGWINCH').map((s) => {
      return onSignal(s, () => { try { process.kill(pid, s); } catch { /* gone */ } });
    });
    cleanups.push(...handlers);
  }
  void conn.exit.then(() => resolveDetached(false));
  return {
    detached,
    restore() {
      for (const c of cleanups.reverse()) { try { c(); } catch { /* best effort */ } }
      conn.stdout.unpipe(out);
      conn.stderr.unpipe(err);
    },
  };
}

/** Wait for the exit record, or the user's detach (then the connection is left, the container runs). */
export async function attachUntilExit(conn: MonitorAttach, w: TerminalWiring): Promise<{ detached: boolean; exit: Awaited<MonitorAttach['exit']> }> {
  const d = await Promise.race([w.detached, conn.exit.then(() => false)]);
  if (d) {
    conn.detach();
    return { detached: true, exit: null };
  }
  const exit = await conn.exit;
  // the monitor sends the exit frame after the last output: let the pipes pass it on
  await new Promise((r) => setImmediate(r));
  return { detached: false, exit };
}

/**
 * After an attach saw the exit: record it (settle) and tell the monitor it need not run its exit
 * command — unless we could not record it (a full disk): then the monitor's exit command will.
 * Returns the container's exit code (`fallback` when the exit is unknown).
 */
export async function settleAttached(core: EngineCore, id: string, conn: MonitorAttach, exit: Awaited<MonitorAttach['exit']>, fallback: number): Promise<number> {
  const after = await settle(core, id, exit).catch((e: unknown) => { conn.detach(); throw e; });
  conn.cleanupDone();
  return after?.state.exitCode ?? (exit ? exitCodeOf(exit) : fallback);
}
