/** Driving berth-runtime as its callers do: as a command, with a private --root. */
import { spawnSync, spawn, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './probe.js';

export function runtimeJs(): string {
  const dist = join(repoRoot(), 'dist', 'berth-runtime.cjs');
  return existsSync(dist) ? dist : join(repoRoot(), 'build', 'src', 'cli', 'runtime-main.js');
}

/** The executable callers run (containerd's BinaryName, dockerd's runtime path): the native front when built. */
export function runtimeBinary(): string {
  const front = join(repoRoot(), 'dist', 'berth-runtime');
  return existsSync(front) ? front : runtimeJs();
}

/** [command, args] that run berth-runtime with `args` as its callers do (through the native front when built). */
export function runtimeCommand(args: string[]): [string, string[]] {
  const bin = runtimeBinary();
  return bin.endsWith('.js') || bin.endsWith('.cjs') ? [process.execPath, [bin, ...args]] : [bin, args];
}

export interface RtResult { status: number; stdout: string; stderr: string }

export class Rt {
  readonly root: string;
  readonly work: string;
  constructor(prefix = 'rt') {
    this.work = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
    this.root = join(this.work, 'state');
  }

  /** Run berth-runtime with args; stdout/stderr captured through files (so a container that keeps them open cannot hang us). */
  run(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): RtResult {
    const out = join(this.work, `out-${process.hrtime.bigint()}`);
    const err = out + '.err';
    const fo = openSync(out, 'w'), fe = openSync(err, 'w');
    let r: SpawnSyncReturns<Buffer>;
    try {
      r = spawnSync(...runtimeCommand(['--root', this.root, ...args]), {
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', fo, fe], input: opts.input, env: opts.env ?? process.env, timeout: opts.timeout ?? 30000,
      });
    } finally { closeSync(fo); closeSync(fe); }
    const res = { status: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    rmSync(out, { force: true }); rmSync(err, { force: true });
    return res;
  }

  ok(args: string[], opts: { input?: string; timeout?: number } = {}): RtResult {
    const r = this.run(args, opts);
    if (r.status !== 0) throw new Error(`berth-runtime ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r;
  }

  /** Create a container whose stdout/stderr go to files; returns their paths. */
  createTo(id: string, bundle: string, extra: string[] = []): { out: string; err: string; result: RtResult } {
    const out = join(this.work, `${id}.out`), err = join(this.work, `${id}.err`);
    const fo = openSync(out, 'w'), fe = openSync(err, 'w');
    let r: SpawnSyncReturns<Buffer>;
    try {
      r = spawnSync(...runtimeCommand(['--root', this.root, 'create', '-b', bundle, ...extra, id]), { stdio: ['ignore', fo, fe], timeout: 30000 });
    } finally { closeSync(fo); closeSync(fe); }
    return { out, err, result: { status: r.status ?? -1, stdout: '', stderr: readFileSync(err, 'utf8') } };
  }

  state(id: string): { status: string; pid: number; [k: string]: unknown } {
    return JSON.parse(this.ok(['state', id]).stdout);
  }

  cleanup(): void {
    const ids = this.run(['list', '-q']).stdout.split('\n').filter(Boolean);
    for (const id of ids) this.run(['delete', '-f', id]);
    rmSync(this.work, { recursive: true, force: true });
  }
}

export function spawnRuntime(root: string, args: string[]) {
  return spawn(...runtimeCommand(['--root', root, ...args]), { stdio: ['pipe', 'pipe', 'pipe'] });
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A console socket receiver (as containerd's shim): prints "listening", then what the pty master gives. */
export async function consoleReceiver(sock: string): Promise<{ out: () => string; done: Promise<unknown> }> {
  const py = `
import socket, os, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
msg, fds, flags, addr = socket.recv_fds(c, 1024, 1)
print("name=" + msg.decode(), flush=True)
m = fds[0]; out = b""
while True:
    try: d = os.read(m, 4096)
    except OSError: break
    if not d: break
    out += d
print(out.decode(errors="replace"), flush=True)
`;
  const recv = spawn('python3', ['-c', py, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  recv.stdout.on('data', (d) => { got += d; });
  const exited = new Promise((r) => recv.on('exit', r));
  // never wait forever for a pty nobody sent
  const done = Promise.race([exited, new Promise((r) => setTimeout(r, 10000).unref())]).finally(() => recv.kill('SIGKILL'));
  await waitFor(() => got.includes('listening'), 5000, 'console receiver');
  return { out: () => got, done };
}
