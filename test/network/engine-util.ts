/**
 * berth's networks tested end to end without touching the machine's network: each fixture makes
 * a throwaway "host" network namespace and runs every `berth` command in it (nsenter --net: the
 * CLI, its helpers, the containers' monitors, their bridges, veths and nftables rules all live
 * there, and vanish with it). An "outside" namespace joined to it by a veth plays another host
 * (and the upstream DNS server's home).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { FRONT } from '../helpers/worker.js';

export interface Result { code: number | null; out: string; err: string }

export interface NetCli extends BusyboxEngine {
  /** the test's "host" namespace (a /run/netns path) and its address toward `outside` */
  ns: string;
  hostIp: string;
  /** another host, joined to the test host by a veth (10.231.0.2) */
  outside: string;
  outsideIp: string;
  berth(args: string[], o?: { input?: string; timeoutMs?: number }): Promise<Result>;
  ok(args: string[]): Promise<string>;
  /** Run a command in the test host's namespace (or `in`); stdout. */
  sh(cmd: string[], o?: { in?: string; allowFail?: boolean }): string;
  /** Start a long-running process in a namespace (killed at the end of the fixture). */
  bg(cmd: string[], inNs: string): ChildProcess;
  resolvConf: string;
}

export function cannotRunNet(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!haveBusybox()) return 'busybox-static is not installed';
  if (!existsSync(FRONT)) return `the CLI is not built (${FRONT})`;
  for (const tool of ['/usr/sbin/nft', '/usr/bin/nsenter']) if (!existsSync(tool) && !existsSync(tool.replace('/usr', ''))) return `${tool} is not installed`;
  return false;
}

export const BUSYBOX = '/bin/busybox';

/** Run a command; its output, or (allowFail) its output and errors when it fails. */
export function run(cmd: string[], allowFail = false): string {
  try {
    return execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  } catch (e) {
    if (allowFail) return ((e as { stdout?: string }).stdout ?? '') + ((e as { stderr?: string }).stderr ?? '');
    throw new Error(`${cmd.join(' ')}: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
}

/** Spawn a command with stdin `input`; its exit code and output (killed after timeoutMs, 30 s by default). */
export function spawnResult(cmd: string[], env: NodeJS.ProcessEnv, o: { input?: string; cwd?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => { err += '\n[test: killed]'; child.kill('SIGKILL'); }, o.timeoutMs ?? 30000);
    child.on('error', (x) => { clearTimeout(timer); reject(x); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

export async function withNetCli(fn: (c: NetCli) => Promise<void>): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const host = `berth-t-${tag}`;
  const outside = `berth-o-${tag}`;
  const made: string[] = [];
  const children: ChildProcess[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'berth-net-'));
  let e: BusyboxEngine | undefined;
  try {
    for (const n of [host, outside]) { run(['ip', 'netns', 'add', n]); made.push(n); run(['ip', '-n', n, 'link', 'set', 'lo', 'up']); }
    run(['ip', '-n', host, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside]);
    run(['ip', '-n', host, 'addr', 'add', '10.231.0.1/24', 'dev', 'uplink']);
    run(['ip', '-n', host, 'addr', 'add', 'fd31::1/64', 'dev', 'uplink', 'nodad']);
    run(['ip', '-n', host, 'link', 'set', 'uplink', 'up']);
    run(['ip', '-n', outside, 'addr', 'add', '10.231.0.2/24', 'dev', 'eth0']);
    run(['ip', '-n', outside, 'addr', 'add', 'fd31::2/64', 'dev', 'eth0', 'nodad']);
    run(['ip', '-n', outside, 'link', 'set', 'eth0', 'up']);
    // no route back to the containers' subnets: only NATed traffic gets an answer
    run(['ip', '-n', host, 'route', 'add', 'default', 'via', '10.231.0.2']);
    const resolvConf = join(tmp, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 10.231.0.2\nsearch example.test\n');
    e = await busyboxEngine({ bridge: 'berth0' });
    const env = { ...e.env, BERTH_BRIDGE: 'berth0', BERTH_RESOLV_CONF: resolvConf, BERTH_NO_WORKER: '1' };
    const nsPath = `/run/netns/${host}`;
    const berth = (args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<Result> => spawnResult(['nsenter', `--net=${nsPath}`, '--', FRONT, ...args], env, o);
    const cli: NetCli = {
      ...e, ns: nsPath, hostIp: '10.231.0.1', outside: `/run/netns/${outside}`, outsideIp: '10.231.0.2', resolvConf,
      berth,
      async ok(args) {
        const r = await berth(args);
        if (r.code !== 0) throw new Error(`berth ${args.join(' ')}: exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
        return r.out.replace(/\n$/, '');
      },
      sh(cmd, o = {}) {
        return run(['nsenter', `--net=${o.in ?? nsPath}`, '--', ...cmd], o.allowFail);
      },
      bg(cmd, inNs) {
        const c = spawn('nsenter', [`--net=${inNs}`, '--', ...cmd], { stdio: 'ignore' });
        children.push(c);
        return c;
      },
    };
    await fn(cli);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    if (e) {
      // remove the containers from inside the namespace (their rules and links live there)
      const env = { ...e.env, BERTH_BRIDGE: 'berth0', BERTH_NO_WORKER: '1' };
      try {
        const ids = execFileSync('nsenter', [`--net=/run/netns/${host}`, '--', FRONT, 'ps', '-aq'], { env, encoding: 'utf8' }).split('\n').filter(Boolean);
        if (ids.length) execFileSync('nsenter', [`--net=/run/netns/${host}`, '--', FRONT, 'rm', '-f', ...ids], { env, stdio: 'ignore' });
      } catch { /* the fixture's cleanup removes what is left */ }
      await e.cleanup();
    }
    for (const n of made) run(['ip', 'netns', 'del', n], true);
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A tiny DNS server (UDP) answering `name` with an A record, every other name NXDOMAIN. */
export const FAKE_DNS_JS = `
const dgram = require('node:dgram');
const [addr, name, ip] = process.argv.slice(2);
const s = dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4');
s.on('message', (q, r) => {
  let i = 12, labels = [];
  while (q[i]) { labels.push(q.subarray(i + 1, i + 1 + q[i]).toString()); i += q[i] + 1; }
  const qname = labels.join('.').toLowerCase();
  const qend = i + 5;
  const type = q.readUInt16BE(i + 1);
  const hit = qname === name && type === 1;
  const h = Buffer.from(q.subarray(0, 12));
  h[2] = 0x81; h[3] = qname === name ? 0x80 : 0x83;
  h.writeUInt16BE(1, 4); h.writeUInt16BE(hit ? 1 : 0, 6); h.writeUInt16BE(0, 8); h.writeUInt16BE(0, 10);
  const parts = [h, q.subarray(12, qend)];
  if (hit) parts.push(Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip.split('.').map(Number)]));
  s.send(Buffer.concat(parts), r.port, r.address);
});
s.bind(53, addr);
`;
