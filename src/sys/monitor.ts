/**
 * Talking to a container monitor (the helper in monitor mode, docs/PLAN.md "Monitor mode"):
 * attach over its unix socket, read the exit file it leaves, parse its json-file log lines.
 */
import { connect, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { PassThrough, Writable } from 'node:stream';
import { BerthError, readSmallFile, wrapError } from '../lib/index.js';

/** What the monitor records when the container's init exits (the exit file, and the exit frame). */
export interface MonitorExit {
  /** exit status when the init exited normally (0 when it was killed by a signal) */
  exitCode: number;
  /** the signal that killed the init, 0 when it exited normally (128+n is the caller's business) */
  signal: number;
  /** the container's cgroup saw an OOM kill (oomKillCount > 0) */
  oomKilled: boolean;
  /** RFC 3339 with nanoseconds, UTC */
  finishedAt: string;
  oomKillCount: number;
  /** bytes of output the log could not take (full disk, …) */
  logDroppedBytes: number;
}

/** One line of a json-file log (Docker's format). */
export interface JsonLogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, UTC, as written */
  time: string;
}

export interface AttachOptions {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** replay the logged output first (then live output follows without gap or repetition) */
  logs?: boolean;
  /**
   * take over the exit command: after the exit frame the monitor keeps this connection open
   * (at most 60 s) and skips its exit command if `cleanupDone()` is called; if the connection
   * ends without it (detach, the process died), the monitor runs the exit command itself
   */
  cleanup?: boolean;
}

/** Frame streams of the attach protocol. */
export const FRAME = { stdin: 0, stdout: 1, stderr: 2, resize: 3, closeStdin: 4, exit: 5, cleanupDone: 6, attached: 7 } as const;

/** `[stream u8][0 0 0][len u32 BE][data]` */
export function encodeFrame(stream: number, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
}

/**
 * An attach connection: `stdout`/`stderr` carry the container's output (with a pty everything
 * arrives on stdout), `stdin` (or `write`) sends input, `end`/`closeStdin` closes the container's
 * stdin, `resize` changes the pty size, `detach` leaves the container running, and `exit` resolves
 * with the exit record, or null when the connection ended without one (detached, monitor gone).
 * With `cleanup: true` the connection stays open after the exit frame until `cleanupDone()`
 * (the monitor skips its exit command) or `detach()` (the monitor runs it).
 */
export class MonitorAttach {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: Writable;
  readonly exit: Promise<MonitorExit | null>;
  /** Resolves when the monitor has registered this client (its output reaches us from then on). */
  readonly attached: Promise<void>;
  private resolveAttached!: () => void;
  private buf: Buffer = Buffer.alloc(0);
  private resolveExit!: (e: MonitorExit | null) => void;
  private gotExit = false;
  private readonly waiting = new Set<PassThrough>();

  constructor(private readonly sock: Socket, private readonly socketPath: string, private readonly opts: AttachOptions) {
    this.exit = new Promise((resolve) => { this.resolveExit = resolve; });
    this.attached = new Promise((resolve) => { this.resolveAttached = resolve; });
    const self = this;
    this.stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (!opts.stdin) return cb(new BerthError({ kind: 'usage', op: 'attach', path: socketPath, message: `attach ${socketPath}: stdin was not requested` }));
        self.send(encodeFrame(FRAME.stdin, chunk), cb);
      },
      final(cb) { self.send(encodeFrame(FRAME.closeStdin), cb); },
    });
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', () => { /* ends like a close: exit resolves null unless the exit frame came */ });
    sock.on('close', () => this.finish());
    for (const s of [this.stdout, this.stderr]) {
      s.on('drain', () => { if (this.waiting.delete(s) && this.waiting.size === 0) sock.resume(); });
    }
  }

  /** Input for a connection that is gone is dropped, as Docker drops it: `exit` tells what happened. */
  private send(b: Buffer, cb: (err?: Error | null) => void): void {
    if (this.sock.destroyed || !this.sock.writable) return cb();
    this.sock.write(b, () => cb());
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      const stream = this.buf[0]!;
      const data = this.buf.subarray(8, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      if (stream === FRAME.stdout || stream === FRAME.stderr) {
        const out = stream === FRAME.stdout ? this.stdout : this.stderr;
        if (!out.write(Buffer.from(data))) {
          this.waiting.add(out);
          this.sock.pause();
        }
      } else if (stream === FRAME.attached) {
        this.resolveAttached();
      } else if (stream === FRAME.exit) {
        try {
          const e = checkExit(JSON.parse(data.toString('utf8')), this.socketPath);
          this.gotExit = true;
          this.resolveExit(e);
        } catch { /* a garbled exit frame: treated as none */ }
      }
    }
  }

  private finish(): void {
    this.resolveAttached();
    this.stdout.end();
    this.stderr.end();
    if (!this.gotExit) this.resolveExit(null);
  }

  /** Send stdin data (as `stdin.write`); the attach must have asked for stdin. */
  write(data: Buffer | string): boolean {
    if (!this.opts.stdin) throw new BerthError({ kind: 'usage', op: 'attach', path: this.socketPath, message: `attach ${this.socketPath}: stdin was not requested` });
    return this.stdin.write(data);
  }

  /** Close the container's stdin once what was written is sent. */
  closeStdin(): void { this.stdin.end(); }

  /** As closeStdin (the Duplex name). */
  end(): void { this.closeStdin(); }

  /** Change the pty window size (no effect without a pty). */
  resize(rows: number, cols: number): void {
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || rows > 65535 || cols > 65535) {
      throw new BerthError({ kind: 'usage', op: 'resize', message: `resize: bad size ${rows}x${cols}` });
    }
    if (!this.sock.destroyed) this.sock.write(encodeFrame(FRAME.resize, `${rows} ${cols}`));
  }

  /** Leave: the container keeps running (its stdin stays open). */
  detach(): void { this.sock.end(); this.sock.destroy(); }

  /**
   * Tell the monitor this client did the cleanup, so it skips its exit command, and leave. Only
   * counts after the exit frame (await `exit` first) and for an attach with `cleanup: true`.
   */
  cleanupDone(): void {
    if (!this.opts.cleanup) throw new BerthError({ kind: 'usage', op: 'attach', path: this.socketPath, message: `attach ${this.socketPath}: cleanup was not requested` });
    if (!this.sock.destroyed && this.sock.writable) this.sock.end(encodeFrame(FRAME.cleanupDone));
  }
}

/** Connect to a monitor's attach socket; rejects when nothing listens there (e.g. the container exited). */
export function attach(socketPath: string, opts: AttachOptions = {}): Promise<MonitorAttach> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const onError = (err: Error) => reject(wrapError(err, 'attach', socketPath));
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      const f = (b: boolean | undefined) => (b ? 1 : 0);
      const cleanup = opts.cleanup ? ' cleanup=1' : '';
      sock.write(`attach stdin=${f(opts.stdin)} stdout=${f(opts.stdout)} stderr=${f(opts.stderr)} logs=${f(opts.logs)}${cleanup}\n`);
      const a = new MonitorAttach(sock, socketPath, opts);
      // wait for the monitor's "attached" frame (or the end of the connection)
      void Promise.race([a.attached, a.exit]).then(() => resolve(a));
    });
  });
}

function checkExit(v: unknown, path: string): MonitorExit {
  const o = v as Record<string, unknown> | null;
  const num = (k: string) => typeof o?.[k] === 'number';
  if (!o || typeof o !== 'object' || !num('exitCode') || !num('signal') || typeof o.oomKilled !== 'boolean' || typeof o.finishedAt !== 'string') {
    throw new BerthError({ kind: 'invalid', op: 'read exit record', path, message: `read exit record ${path}: not a monitor exit record` });
  }
  return {
    exitCode: o.exitCode as number,
    signal: o.signal as number,
    oomKilled: o.oomKilled as boolean,
    finishedAt: o.finishedAt as string,
    oomKillCount: num('oomKillCount') ? (o.oomKillCount as number) : 0,
    logDroppedBytes: num('logDroppedBytes') ? (o.logDroppedBytes as number) : 0,
  };
}

/** readExitFile without waiting: null while there is none (or a garbled one: treated as none). */
export function readExitFileSync(path: string): MonitorExit | null {
  // a running container has none: look before opening (a failed open throws, which costs more)
  if (!existsSync(path)) return null;
  const text = readSmallFile(path, 'utf8');
  if (text === undefined) return null;
  try { return checkExit(JSON.parse(text), path); } catch { return null; }
}

/** The exit file a monitor wrote, or null while there is none (the container still runs). */
export async function readExitFile(path: string): Promise<MonitorExit | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw wrapError(err, 'read exit record', path);
  }
  let v: unknown;
  try { v = JSON.parse(text); } catch {
    throw new BerthError({ kind: 'invalid', op: 'read exit record', path, message: `read exit record ${path}: not JSON` });
  }
  return checkExit(v, path);
}

/** One json-file log line (without or with its newline). */
export function parseJsonLog(line: string): JsonLogEntry {
  let v: unknown;
  try { v = JSON.parse(line); } catch {
    throw new BerthError({ kind: 'invalid', op: 'parse log line', message: `parse log line: not JSON: ${line.slice(0, 80)}` });
  }
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o.log !== 'string' || (o.stream !== 'stdout' && o.stream !== 'stderr') || typeof o.time !== 'string') {
    throw new BerthError({ kind: 'invalid', op: 'parse log line', message: `parse log line: missing log, stream or time: ${line.slice(0, 80)}` });
  }
  return { log: o.log, stream: o.stream, time: o.time };
}
