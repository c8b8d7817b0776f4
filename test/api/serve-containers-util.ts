/**
 * For the container endpoint tests of `berth serve`: the docker CLI under a real pty (a python3
 * driver: a script of writes, pauses and window resizes), raw HTTP requests and the docker CLI
 * with its own environment (DOCKER_HOST), beside test/api/util.ts's fixture.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOCKER, type Served } from './util.js';

const DRIVER = String.raw`
import os, pty, sys, time, select, struct, fcntl, termios, signal
rows, cols = int(sys.argv[1]), int(sys.argv[2])
cmd = sys.argv[3].split('\x1f')
steps = sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
out = b''
def pump(t):
    global out
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if r:
            try: d = os.read(fd, 65536)
            except OSError: return False
            if not d: return False
            out += d
    return True
def wait_for(text, t):
    end = time.time() + t
    while text.encode() not in out and time.time() < end:
        if not pump(0.05): return
for s in steps:
    k, v = s[0], s[2:]
    if k == 'w': os.write(fd, v.encode())
    elif k == 's': pump(float(v))
    elif k == 'u': wait_for(v, 15)
    elif k == 'r':
        r_, c_ = map(int, v.split(','))
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r_, c_, 0, 0))
        os.kill(pid, signal.SIGWINCH)
while pump(60): pass
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.stdout.flush()
sys.exit(os.waitstatus_to_exitcode(st))
`;

/** A step of the pty script: write text, sleep seconds, wait until the output shows text, resize. */
export type PtyStep = { write: string } | { sleep: number } | { until: string } | { resize: [number, number] };

export interface Run { code: number | null; out: string; err: string }

/** The docker CLI with `args` on a pty of `rows`×`cols`, driven by `steps`; its terminal output. */
export async function dockerPty(s: Served, args: string[], size: [number, number], steps: PtyStep[], timeoutMs = 60_000): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pty-'));
  try {
    const driver = join(dir, 'drive.py');
    writeFileSync(driver, DRIVER);
    const argv = steps.map((st) => ('write' in st ? `w:${st.write}` : 'sleep' in st ? `s:${st.sleep}` : 'until' in st ? `u:${st.until}` : `r:${st.resize[0]},${st.resize[1]}`));
    return await runProc('python3', [driver, String(size[0]), String(size[1]), [DOCKER, '-H', `unix://${s.socket}`, ...args].join('\x1f'), ...argv], { HOME: dir, DOCKER_CONFIG: dir }, '', timeoutMs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function runProc(cmd: string, args: string[], env: Record<string, string>, input = '', timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
    child.stdin.on('error', () => undefined); // the client may exit without reading its stdin
    child.stdin.end(input);
  });
}

/** A raw HTTP/1.1 exchange on the socket: the bytes written, everything read until the server closes (or `ms`). */
export function rawExchange(socket: string, request: string | Buffer, o: { ms?: number; onData?: (all: Buffer, write: (b: Buffer | string) => void) => void } = {}): Promise<Buffer> {
  return new Promise((resolve) => {
    const sock = connect(socket);
    let all = Buffer.alloc(0);
    const timer = setTimeout(() => sock.destroy(), o.ms ?? 15_000);
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d: Buffer) => { all = Buffer.concat([all, d]); o.onData?.(all, (b) => sock.write(b)); });
    sock.on('error', () => undefined);
    sock.on('close', () => { clearTimeout(timer); resolve(all); });
  });
}

/** Docker's multiplexed stream as [stream, text] pairs. */
export function demux(b: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const len = b.readUInt32BE(off + 4);
    out.push([b[off]!, b.subarray(off + 8, off + 8 + len).toString()]);
    off += 8 + len;
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
