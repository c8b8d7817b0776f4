/**
 * Shared pieces of the embedded-DNS and held-port tests: throwaway network namespaces, a
 * container launched by the runtime (with its monitor) from a driver running inside a test netns,
 * a fake upstream DNS server, and a small DNS client run inside the container's netns.
 * Nothing here touches the machine's own network: every socket lives in a `berth-t-*` netns.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveBusybox } from '../helpers/rootfs.js';
import { makeBundle, uniqueId } from '../helpers/bundle.js';

export const skip = process.getuid?.() !== 0 ? 'needs root' : !haveBusybox() ? 'busybox-static is not installed'
  : spawnSync('ip', ['-V']).status !== 0 ? 'iproute2 (ip) is not installed' : false;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh network namespace with lo up; `path` is its /run/netns file. */
export function netns(tag: string): { name: string; path: string; remove(): void } {
  const name = `berth-t-${tag}-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/run/netns/${name}`, remove: () => { spawnSync('ip', ['netns', 'del', name]); } };
}

export function inNs(nsPath: string, cmd: string, args: string[], input?: string): { status: number; out: string; err: string } {
  const r = spawnSync('nsenter', [`--net=${nsPath}`, '--', cmd, ...args], { encoding: 'utf8', input, timeout: 30000 });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A node program (its source) running in a netns until stopped; resolves once it printed "ready". */
export async function nodeInNs(nsPath: string, source: string, dir: string, args: string[] = []): Promise<{ proc: ChildProcess; out: () => string; stop(): Promise<void> }> {
  const file = join(dir, `prog-${randomBytes(4).toString('hex')}.mjs`);
  writeFileSync(file, source);
  const proc = spawn('nsenter', [`--net=${nsPath}`, '--', process.execPath, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const end = Date.now() + 10000;
  while (!out.includes('ready')) {
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`program in ${nsPath} did not start: ${err || out}`);
    await sleep(10);
  }
  return {
    proc, out: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGKILL'); await new Promise((r) => proc.once('exit', r)); }
    },
  };
}

/**
 * The fake upstream (UDP and TCP): answers A for `<n>.upstream.test` with 198.51.100.<n> (TTL 42),
 * 60 A records for `big.upstream.test` (over UDP: truncated, TC set) and NXDOMAIN for anything
 * else; logs `from <address> <name>` per query to the file argv[5] (the test's event
 * loop is blocked while its clients run: a pipe would be read too late); with argv[4] = ms, answers that late
 * (queries then overlap: the answers come back in another order than the queries went).
 */
export const FAKE_UPSTREAM = `
import dgram from 'node:dgram';
import net from 'node:net';
import { appendFileSync } from 'node:fs';
const [addr, port, delay, log] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] || 0), process.argv[5]];
function answer(m, from, how) {
  let o = 12, labels = [];
  while (m[o]) { labels.push(m.subarray(o + 1, o + 1 + m[o]).toString()); o += 1 + m[o]; }
  o += 1;
  const name = labels.join('.').toLowerCase(), qend = o + 4;
  appendFileSync(log, 'from ' + from + ' ' + name + ' ' + how + '\\n');
  const mm = /^(\\d+)\\.upstream\\.test$/.exec(name), big = name === 'big.upstream.test';
  const rrs = mm ? [Number(mm[1])] : big ? Array.from({ length: 60 }, (_, i) => i + 1) : [];
  const h = Buffer.alloc(12);
  m.copy(h, 0, 0, 2);
  h.writeUInt16BE(1, 4);
  let body = Buffer.concat(rrs.map((n) => Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 42, 0, 4, 198, 51, 100, n])));
  let tc = 0;
  if (how === 'udp' && 12 + (qend - 12) + body.length > 512) { body = Buffer.alloc(0); tc = 0x200; }
  h.writeUInt16BE(0x8180 | tc | (rrs.length ? 0 : 3), 2);
  h.writeUInt16BE(body.length ? rrs.length : 0, 6);
  return [Buffer.concat([h, m.subarray(12, qend), body]), mm ? Number(mm[1]) : 0];
}
const s = dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4');
s.on('message', (m, r) => {
  const [ans, n] = answer(m, r.address, 'udp');
  setTimeout(() => s.send(ans, r.port, r.address), delay ? delay - n * 10 : 0);
});
const t = net.createServer((c) => {
  let b = Buffer.alloc(0);
  c.on('error', () => {});
  c.on('data', (d) => {
    b = Buffer.concat([b, d]);
    while (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0)) {
      const [ans] = answer(b.subarray(2, 2 + b.readUInt16BE(0)), c.remoteAddress, 'tcp');
      b = b.subarray(2 + b.readUInt16BE(0));
      const l = Buffer.alloc(2); l.writeUInt16BE(ans.length);
      c.write(Buffer.concat([l, ans]));
    }
  });
});
s.bind(port, addr, () => t.listen(port, addr, () => console.log('ready')));
`;

/**
 * The DNS client, run inside the container's netns: argv[2] = JSON list of queries
 * {name, type, tcp?, server?}; all are sent at once (UDP ids 1..n); prints one JSON result each:
 * {id, rcode, aa, tc, answers: [{type, ttl, data}]} or {error}.
 */
export const DNS_CLIENT = `
import dgram from 'node:dgram';
import net from 'node:net';
const TYPES = { A: 1, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };
function query(id, name, type) {
  const h = Buffer.alloc(12); h.writeUInt16BE(id, 0); h.writeUInt16BE(0x0100, 2); h.writeUInt16BE(1, 4);
  const parts = name.replace(/\\.$/, '').split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const t = Buffer.alloc(4); t.writeUInt16BE(TYPES[type], 0); t.writeUInt16BE(1, 2);
  return Buffer.concat([h, ...parts, Buffer.from([0]), t]);
}
function readName(m, o) {
  const labels = [];
  for (let jumps = 0; jumps < 20; jumps++) {
    const l = m[o];
    if (l === 0) return labels.join('.');
    if (l >= 0xc0) { o = ((l & 0x3f) << 8) | m[o + 1]; continue; }
    labels.push(m.subarray(o + 1, o + 1 + l).toString()); o += 1 + l;
  }
  return '?';
}
function skipName(m, o) { while (m[o] && m[o] < 0xc0) o += 1 + m[o]; return m[o] ? o + 2 : o + 1; }
function decode(m) {
  const id = m.readUInt16BE(0), f = m.readUInt16BE(2), qd = m.readUInt16BE(4), an = m.readUInt16BE(6);
  let o = 12;
  for (let i = 0; i < qd; i++) o = skipName(m, o) + 4;
  const answers = [];
  for (let i = 0; i < an; i++) {
    o = skipName(m, o);
    const type = m.readUInt16BE(o), ttl = m.readUInt32BE(o + 4), len = m.readUInt16BE(o + 8), rd = m.subarray(o + 10, o + 10 + len);
    let data;
    if (type === 1) data = [...rd].join('.');
    else if (type === 28) data = rd.toString('hex').match(/.{4}/g).join(':');
    else if (type === 12) data = readName(m, o + 10);
    answers.push({ type, ttl, data });
    o += 10 + len;
  }
  return { id, rcode: f & 15, aa: !!(f & 0x400), tc: !!(f & 0x200), answers };
}
function udp(q, id) {
  return new Promise((resolve) => {
    const s = dgram.createSocket(q.server?.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => { s.close(); resolve({ error: 'timeout' }); }, q.timeout ?? 6000);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(decode(m)); });
    s.on('error', (e) => { clearTimeout(t); s.close(); resolve({ error: e.code }); });
    s.send(query(id, q.name, q.type), 53, q.server ?? '127.0.0.11');
  });
}
function tcp(qs) {
  // several queries on one connection, one after the other
  return new Promise((resolve) => {
    const out = []; let buf = Buffer.alloc(0), k = 0;
    const c = net.connect(53, qs[0].server ?? '127.0.0.11');
    const t = setTimeout(() => { c.destroy(); resolve([...out, { error: 'timeout' }]); }, 8000);
    const send = () => { const m = query(100 + k, qs[k].name, qs[k].type); const l = Buffer.alloc(2); l.writeUInt16BE(m.length); c.write(Buffer.concat([l, m])); };
    c.on('connect', send);
    c.on('error', (e) => { clearTimeout(t); resolve([...out, { error: e.code }]); });
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(decode(buf.subarray(2, 2 + buf.readUInt16BE(0)))); buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (++k === qs.length) { clearTimeout(t); c.end(); resolve(out); return; }
        send();
      }
    });
  });
}
const qs = JSON.parse(process.argv[2]);
const results = qs.some((q) => q.tcp) ? await tcp(qs) : await Promise.all(qs.map((q, i) => udp(q, i + 1)));
console.log(JSON.stringify(results));
`;

export interface DnsAnswer { id?: number; rcode?: number; aa?: boolean; tc?: boolean; answers?: Array<{ type: number; ttl: number; data: string }>; error?: string }

/** Run queries from inside the container's network namespace (its init's pid). */
export function dnsQuery(dir: string, pid: number, qs: Array<{ name: string; type: 'A' | 'AAAA' | 'PTR' | 'MX' | 'TXT'; tcp?: boolean; server?: string; timeout?: number }>): DnsAnswer[] {
  const file = join(dir, 'dns-client.mjs');
  if (!existsSync(file)) writeFileSync(file, DNS_CLIENT);
  const r = inNs(`/proc/${pid}/ns/net`, process.execPath, [file, JSON.stringify(qs)]);
  if (r.status !== 0) throw new Error(`dns client failed (${r.status}): ${r.err}`);
  return JSON.parse(r.out) as DnsAnswer[];
}

/** busybox nslookup inside the container (its mount and network namespaces). */
export function nslookup(pid: number, args: string[]): { status: number; out: string } {
  const r = spawnSync('nsenter', ['-t', String(pid), '-m', '-n', '--', '/bin/nslookup', ...args], { encoding: 'utf8', timeout: 30000 });
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}

/** The addresses busybox nslookup printed for the name (the lines after "Name:"). */
export function nsAddresses(out: string): string[] {
  const res: string[] = [];
  let inName = false;
  for (const l of out.split('\n')) {
    if (/^Name:/.test(l)) inName = true;
    else if (inName && /^Address( \d+)?:/.test(l)) res.push(l.replace(/^Address( \d+)?:\s*/, '').trim());
    else if (!l.trim()) inName = false;
  }
  return res.sort();
}

export interface Launch { init: number; monitor: number }

const DRIVER = `
const [rtUrl, args] = [process.argv[2], JSON.parse(process.argv[3])];
const { launch } = await import(rtUrl);
try {
  const r = await launch({ root: args.root }, { id: args.id, bundle: args.bundle, monitor: args.monitor }, 'run', false, false, true);
  console.log(JSON.stringify({ init: r.container.st.pid, monitor: r.monitorPid }));
} catch (e) {
  console.log(JSON.stringify({ error: { message: e.message, path: e.path, code: e.code, errno: e.errno, step: e.step } }));
}
process.exit(0);
`;

export interface Ctr { id: string; bundle: string; work: string; root: string }

/** A bundle whose process sleeps (busybox), with a new network namespace, in a temp dir. */
export function sleeper(): Ctr {
  const work = mkdtempSync(join(tmpdir(), 'berth-dns-'));
  const b = makeBundle(join(work, 'bundle'), { process: { args: ['/bin/sleep', '1000'] } }, { probe: false });
  return { id: uniqueId('dns'), bundle: b.dir, work, root: join(work, 'state') };
}

/** Launch with the runtime (monitor mode) from a driver inside `nsPath` (run under `prefix`, if
 * any), so the monitor's own network namespace is that test netns; returns the pids, or the launch error. */
export function launchIn(nsPath: string, c: Ctr, monitor: Record<string, unknown>, prefix: string[] = []): Launch & { error?: { message: string; path?: string; code?: string; errno?: number; step?: string } } {
  const file = join(c.work, 'driver.mjs');
  writeFileSync(file, DRIVER);
  const rtUrl = new URL('../../src/runtime/index.js', import.meta.url).href;
  const full = { log: '', maxSize: 0, maxFiles: 1, exitFile: join(c.work, `${c.id}.exit`), socket: join(c.work, `${c.id}.sock`), stdin: false, ...monitor };
  const args = [file, rtUrl, JSON.stringify({ root: c.root, id: c.id, bundle: c.bundle, monitor: full })];
  // prefix: a command the driver runs under (e.g. prlimit)
  const r = prefix.length ? inNs(nsPath, prefix[0]!, [...prefix.slice(1), process.execPath, ...args]) : inNs(nsPath, process.execPath, args);
  if (r.status !== 0) throw new Error(`driver failed (${r.status}): ${r.err}`);
  return JSON.parse(r.out.trim().split('\n').pop()!);
}

export async function removeCtr(c: Ctr, pids?: Launch): Promise<void> {
  const { del } = await import('../../src/runtime/index.js');
  try { await del({ root: c.root }, c.id, true); } catch { /* gone */ }
  if (pids?.monitor) {
    for (let i = 0; i < 400 && existsSync(`/proc/${pids.monitor}`) && !/^State:\s+Z/m.test(safeRead(`/proc/${pids.monitor}/status`)); i++) await sleep(10);
  }
  rmSync(c.work, { recursive: true, force: true });
}

function safeRead(p: string): string {
  try { return readFileSync(p, 'utf8'); } catch { return ''; }
}

/** VmRSS and Pss (kB) of a process. */
export function memory(pid: number): { rss: number; pss: number } {
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]);
  return { rss, pss };
}

export function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(safeRead(`/proc/${pid}/status`));
}
