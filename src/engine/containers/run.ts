/** `run` for library callers: create, start attached, wait for the exit, `--rm`. */
import { Readable } from 'node:stream';
import type { MonitorAttach } from '../../sys/index.js';
import type { Container } from '../store/index.js';
import { exitCodeOf, settle } from './cleanup.js';
import type { EngineCore } from './core.js';
import { createContainer, type CreateRequest } from './create.js';
import { startContainer } from './start.js';
import { removeContainer } from './lifecycle.js';

export interface RunRequest extends CreateRequest {
  /** Start and return at once (the container keeps running under its monitor). */
  detach?: boolean;
  /** Input for the container's stdin (implies options.openStdin). */
  stdin?: Readable | string | Buffer;
}

export interface RunResult {
  id: string;
  name: string;
  /** 128+n for a signal; undefined when detached */
  exitCode?: number;
  oomKilled?: boolean;
  stdout: string;
  stderr: string;
}

/** Attach for a foreground run: take over the cleanup, stream output. */
export async function runContainer(core: EngineCore, req: RunRequest, io?: { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream }): Promise<RunResult> {
  const options = { ...(req.options ?? {}) };
  if (req.stdin !== undefined) options.openStdin = true;
  const c: Container = await createContainer(core, { ...req, options, attachStdout: !req.detach, attachStderr: !req.detach, attachStdin: req.stdin !== undefined });
  if (req.detach) {
    try {
      const s = await startContainer(core, c.id);
      return { id: s.container.id, name: s.container.name, stdout: '', stderr: '' };
    } catch (e) {
      if (req.autoRemove) await removeContainer(core, c.id, { force: true, volumes: true }).catch(() => undefined);
      throw e;
    }
  }
  let conn: MonitorAttach | undefined;
  try {
    const s = await startContainer(core, c.id, { attach: { stdin: req.stdin !== undefined, stdout: true, stderr: true, cleanup: true } });
    conn = s.attach!;
  } catch (e) {
    if (req.autoRemove) await removeContainer(core, c.id, { force: true, volumes: true }).catch(() => undefined);
    throw e;
  }
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  conn.stdout.on('data', (d: Buffer) => { if (io?.stdout) io.stdout.write(d); else out.push(d); });
  conn.stderr.on('data', (d: Buffer) => { if (io?.stderr) io.stderr.write(d); else err.push(d); });
  if (req.stdin !== undefined) {
    const src = typeof req.stdin === 'string' || Buffer.isBuffer(req.stdin) ? Readable.from([req.stdin]) : req.stdin;
    src.pipe(conn.stdin);
  }
  const exit = await conn.exit;
  const after = await settle(core, c.id, exit);
  conn.cleanupDone();
  return {
    id: c.id, name: c.name,
    exitCode: after?.state.exitCode ?? (exit ? exitCodeOf(exit) : 255),
    oomKilled: after?.state.oomKilled ?? exit?.oomKilled ?? false,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}
