/** Start containerd or dockerd on private sockets and roots for a test, and stop them cleanly. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Daemon { dir: string; sock: string; proc: ChildProcess; stop(): Promise<void>; log(): string }

async function waitSock(sock: string, proc: ChildProcess, logFile: string, timeoutMs = 20000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!existsSync(sock)) {
    if (proc.exitCode !== null) throw new Error(`daemon exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    if (Date.now() > end) throw new Error(`daemon socket ${sock} did not appear: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => !!m && m.startsWith(dir));
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
}

async function start(name: string, argv: (dir: string, sock: string) => string[], sockName: string): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), `berth-${name}-`));
  const sock = join(dir, sockName);
  const logFile = join(dir, 'daemon.log');
  const fd = openSync(logFile, 'w');
  const args = argv(dir, sock);
  const proc = spawn(args[0]!, args.slice(1), { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  await waitSock(sock, proc, logFile);
  return {
    dir, sock, proc, log: () => readFileSync(logFile, 'utf8'),
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const gone = await Promise.race([new Promise((r) => proc.once('exit', () => r(true))), new Promise((r) => setTimeout(() => r(false), 15000))]);
        if (!gone) proc.kill('SIGKILL');
      }
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function haveBinary(path: string): boolean { return existsSync(path); }

export function startContainerd(): Promise<Daemon> {
  return start('containerd', (dir, sock) => ['/usr/bin/containerd', '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', sock], 'containerd.sock');
}

export function startDockerd(runtimePath: string): Promise<Daemon> {
  return start('dockerd', (dir, sock) => ['/usr/sbin/dockerd', '--add-runtime', `berth=${runtimePath}`, '--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec'),
    '-H', `unix://${sock}`, '--pidfile', join(dir, 'dockerd.pid'), '--iptables=false', '--ip6tables=false', '--bridge=none', '--containerd-namespace', `berth-test-${process.pid}`], 'docker.sock');
}
