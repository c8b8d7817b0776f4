/**
 * `berth run -it`, `attach` and `exec -it` through a real pseudo-terminal (python3's pty module
 * drives the CLI as a user at a terminal would): the prompt, typed input, window size changes,
 * Ctrl-C, Ctrl-D, exit codes, detaching with Ctrl-P Ctrl-Q (or --detach-keys) and attaching again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { BERTH_MAIN, cannotRun, withCli, type Cli } from './run-util.js';

function havePython(): boolean {
  try { execFileSync('python3', ['-c', 'import pty, termios, fcntl']); return true; } catch { return false; }
}

const skip = cannotRun() || (havePython() ? false : 'python3 (pty module) is not installed');

/**
 * The driver: forks a pty (24x80) running argv, then runs the steps — ["expect", regex, timeoutS?]
 * (searched in the output after the previous match), ["send", text], ["winsize", rows, cols] (on
 * the master: the kernel sends SIGWINCH to the CLI), ["sleep", ms] — then reads until EOF and
 * reaps the CLI (20 s at most). Prints {"ok", "step", "why", "output", "exit"} as JSON.
 */
const DRIVER = String.raw`
import os, pty, sys, json, select, time, fcntl, termios, struct, re, signal
steps = json.loads(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
    os.execvp(argv[0], argv)
buf = b''; pos = 0; status = None
def pump(timeout):
    global buf
    r, _, _ = select.select([fd], [], [], timeout)
    if not r: return True
    try: d = os.read(fd, 65536)
    except OSError: return False
    if not d: return False
    buf += d; return True
def done(ok, **kw):
    print(json.dumps(dict(ok=ok, output=buf.decode('utf8', 'replace'), **kw)))
    sys.exit(0)
def fail(i, why):
    try: os.kill(pid, signal.SIGKILL)
    except Exception: pass
    done(False, step=i, why=why, exit=None)
for i, s in enumerate(steps):
    k = s[0]
    if k == 'expect':
        rx = re.compile(s[1].encode()); end = time.time() + (s[2] if len(s) > 2 else 15)
        while True:
            m = rx.search(buf, pos)
            if m: pos = m.end(); break
            if time.time() > end: fail(i, 'timeout waiting for ' + s[1])
            if not pump(0.1) and not rx.search(buf, pos): fail(i, 'end of output waiting for ' + s[1])
    elif k == 'send': os.write(fd, s[1].encode())
    elif k == 'winsize': fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', s[1], s[2], 0, 0))
    elif k == 'sleep':
        end = time.time() + s[1] / 1000
        while time.time() < end: pump(0.05)
end = time.time() + 20
while time.time() < end and pump(0.1): pass
while time.time() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p: status = os.waitstatus_to_exitcode(st); break
    time.sleep(0.05)
if status is None: fail(len(steps), 'the CLI did not exit')
done(True, exit=status)
`;

type Step = ['expect', string, number?] | ['send', string] | ['winsize', number, number] | ['sleep', number];
interface PtyResult { ok: boolean; step?: number; why?: string; output: string; exit: number | null }

function atPty(c: Cli, args: string[], steps: Step[]): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', DRIVER, JSON.stringify(steps), process.execPath, BERTH_MAIN, ...args],
      { env: c.env, timeout: 90_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
        if (err && !stdout) return reject(new Error(`pty driver: ${err.message}\n${stderr}`));
        try { resolve(JSON.parse(stdout) as PtyResult); } catch { reject(new Error(`pty driver: ${stdout}\n${stderr}`)); }
      });
  });
}

function passed(r: PtyResult, what: string): void {
  assert.ok(r.ok, `${what}: step ${r.step}: ${r.why}\noutput: ${JSON.stringify(r.output)}`);
}

const PROMPT = '/ # ';
/**
 * ash switches the terminal between cooked and raw per line read: a Ctrl-D typed while it is
 * cooked is a line-discipline EOF that ash never sees. Waiting a moment after the prompt (ash
 * asks for the cursor position, ESC[6n, once it reads) avoids typing into that window.
 */
const SETTLE: Step = ['sleep', 300];
/**
 * The first prompt of a new shell. Its banner may be lost (a known bug, see run-races.test.ts:
 * output written at once can miss the attach), so a newline asks for a fresh prompt.
 */
const FIRST_PROMPT: Step[] = [['sleep', 500], ['send', '\r'], ['expect', PROMPT], SETTLE];

test('run -it: prompt, typed commands, the window size and its changes, TERM, Ctrl-D ends with 0', { skip }, () => withCli(async (c) => {
  const r = await atPty(c, ['run', '-it', '--rm', 'busybox', 'sh'], [
    ...FIRST_PROMPT,
    ['send', 'echo $((40+2))\r'], ['expect', '\r\n42\r\n'],
    ['expect', PROMPT], SETTLE,
    ['send', 'stty size\r'], ['expect', '\r\n24 80\r\n'],
    ['winsize', 33, 101], ['sleep', 300],
    ['send', 'stty size\r'], ['expect', '\r\n33 101\r\n'],
    ['send', 'tty; echo $TERM\r'], ['expect', '/dev/pts/0\r\nxterm\r\n'],
    ['expect', PROMPT], SETTLE,
    ['send', '\x04'],
  ]);
  passed(r, 'run -it');
  assert.equal(r.exit, 0);
  assert.deepEqual(await c.ids(), [], '--rm removed it');
}));

test('run -it: Ctrl-C interrupts the foreground command only; exit N gives N', { skip }, () => withCli(async (c) => {
  const r = await atPty(c, ['run', '-it', '--rm', 'busybox', 'sh'], [
    ...FIRST_PROMPT,
    ['send', 'sleep 30\r'], ['expect', 'sleep 30\r\n'], ['sleep', 500],
    ['send', '\x03'], ['expect', '\\^C', 5], ['expect', PROMPT, 5], SETTLE,
    ['send', 'echo after-int\r'], ['expect', '\r\nafter-int\r\n'],
    ['expect', PROMPT], SETTLE,
    ['send', 'exit 3\r'],
  ]);
  passed(r, 'run -it');
  assert.equal(r.exit, 3);
}));

test('Ctrl-P Ctrl-Q detaches from run -it, the container runs on; attach takes it up again', { skip }, () => withCli(async (c) => {
  let r = await atPty(c, ['run', '-it', '--name', 'det', 'busybox', 'sh'], [
    ...FIRST_PROMPT,
    ['send', 'echo before-$((1+1)) > /tmp/mark; cat /tmp/mark\r'], ['expect', '\r\nbefore-2\r\n'],
    ['expect', PROMPT], SETTLE,
    ['send', '\x10\x11'],
  ]);
  passed(r, 'run -it, detach');
  assert.equal(r.exit, 0);
  assert.match(await c.ok(['ps', '--format', '{{.Names}} {{.Status}}']), /^det Up /);
  r = await atPty(c, ['attach', 'det'], [
    SETTLE,
    ['send', 'cat /tmp/mark; echo again-$((2+3))\r'], ['expect', 'before-2\r\nagain-5\r\n'],
    ['expect', PROMPT], SETTLE,
    ['send', 'exit 3\r'],
  ]);
  passed(r, 'attach');
  assert.equal(r.exit, 3, 'attach exits with the container\'s code');
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'det']), 'exited 3');
}));

test('--detach-keys ctrl-x,x detaches; attach --detach-keys too', { skip }, () => withCli(async (c) => {
  let r = await atPty(c, ['run', '-it', '--detach-keys', 'ctrl-x,x', '--name', 'dk', 'busybox', 'sh'], [
    ...FIRST_PROMPT, ['send', '\x18x'],
  ]);
  passed(r, 'run -it --detach-keys');
  assert.equal(r.exit, 0);
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}}', 'dk']), 'running');
  r = await atPty(c, ['attach', '--detach-keys', 'ctrl-a,a', 'dk'], [
    SETTLE, ['send', 'echo x$((1+1))\r'], ['expect', 'x2\r\n'], SETTLE, ['send', '\x01a'],
  ]);
  passed(r, 'attach --detach-keys');
  assert.equal(r.exit, 0);
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}}', 'dk']), 'running');
  await c.ok(['rm', '-f', 'dk']);
}));

test('run -t without -i: a terminal of the caller\'s size, no input', { skip }, () => withCli(async (c) => {
  const r = await atPty(c, ['run', '-t', '--rm', 'busybox', 'sh', '-c', 'tty; stty size; test -t 0 && echo stdin-is-tty'], []);
  passed(r, 'run -t');
  assert.equal(r.exit, 0);
  // without raw mode the caller's terminal adds its own \r (as with docker run -t)
  assert.deepEqual(r.output.replace(/\r/g, '').split('\n').filter(Boolean), ['/dev/pts/0', '24 80', 'stdin-is-tty']);
}));

test('exec -it: a shell in a running container; the exit code of the exec\'d command', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'ex', 'busybox', 'sleep', '60']);
  await c.ok(['run', '-d', '--name', 'ex5', 'busybox', 'sleep', '60']);
  let r = await atPty(c, ['exec', '-it', 'ex', 'sh'], [
    ...FIRST_PROMPT,
    ['send', 'echo in-$((6*7)); cat /proc/1/cmdline\r'], ['expect', '\r\nin-42\r\nsleep'],
    ['expect', PROMPT], SETTLE,
    ['send', '\x04'],
  ]);
  passed(r, 'exec -it');
  assert.equal(r.exit, 0);
  // (a second exec -t into the same container: the test below)
  r = await atPty(c, ['exec', '-it', 'ex5', 'sh', '-c', 'stty size; exit 5'], [['expect', '24 80']]);
  passed(r, 'exec -it sh -c');
  assert.equal(r.exit, 5);
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}}', 'ex']), 'running', 'the container is untouched');
  await c.ok(['rm', '-f', 'ex', 'ex5']);
}));

test('exec -t twice into one container', {
  skip,
}, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'ex', 'busybox', 'sleep', '60']);
  for (const n of [1, 2, 3]) {
    const r = await atPty(c, ['exec', '-it', 'ex', 'sh', '-c', `tty; exit ${n}`], [['expect', '/dev/pts/']]);
    passed(r, `exec -t #${n}`);
    assert.equal(r.exit, n);
  }
  // the execs' ptys left no /dev/console behind (a container run without -t has none)
  assert.equal(await c.ok(['exec', 'ex', 'sh', '-c', 'test -e /dev/console && stat -c %t /dev/console || echo none']), 'none');
  await c.ok(['rm', '-f', 'ex']);
}));
