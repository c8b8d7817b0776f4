/**
 * The embedded DNS server's files (docs/PLAN.md, Monitor mode, `dns CONFPATH`): each container's
 * monitor answers 127.0.0.11 inside the container from a per-container conf naming its upstreams and
 * the tables of the networks it is on; the engine keeps one table per network. Both are replaced
 * atomically (temp + rename): the monitor re-reads the conf when it changes and scans the tables
 * per query, so a reader never sees half a file.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { invalid, wrapError } from '../../lib/index.js';

/** One name of a table: several lines per name are several records (v4 → A, v6 → AAAA). */
export interface DnsRecord { name: string; address: string }

/** A container's conf: upstreams tried in order ("IP", "IP:PORT", "[IPv6]:PORT"), tables by path. */
export interface DnsConfig { upstreams: string[]; tables: string[] }

const OP = 'dns';

/** A DNS name as the tables hold it: lower case, no trailing dot, no white space. */
export function normalizeName(name: string): string {
  const n = name.trim().replace(/\.$/, '').toLowerCase();
  if (!n || n.length > 253 || /\s/.test(n) || n.split('.').some((l) => !l || l.length > 63)) {
    throw invalid(OP, `${OP}: ${JSON.stringify(name)} is not a valid DNS name`);
  }
  return n;
}

/** "IP", "IP:PORT" or "[IPv6]:PORT" → the conf's spelling; throws on anything else. */
export function normalizeUpstream(up: string): string {
  const s = up.trim();
  let host = s, port: string | undefined;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const v4 = /^([^:]+):(\d+)$/.exec(s);
  if (br) { host = br[1]!; port = br[2]; } else if (v4) { host = v4[1]!; port = v4[2]; }
  const fam = isIP(host);
  const p = port === undefined ? 53 : Number(port);
  if (!fam || (br && fam !== 6) || !Number.isInteger(p) || p < 1 || p > 65535) {
    throw invalid(OP, `${OP}: upstream ${JSON.stringify(up)} is not IP[:PORT]`);
  }
  if (p === 53) return host;
  return fam === 6 ? `[${host}]:${p}` : `${host}:${p}`;
}

export function formatDnsConfig(c: DnsConfig): string {
  const lines = c.upstreams.map((u) => `upstream ${normalizeUpstream(u)}`);
  for (const t of c.tables) {
    if (!t.startsWith('/') || /\s/.test(t)) throw invalid(OP, `${OP}: table path ${JSON.stringify(t)} must be absolute, without white space`);
    lines.push(`table ${t}`);
  }
  return lines.map((l) => l + '\n').join('');
}

export function formatDnsTable(records: DnsRecord[]): string {
  return records.map((r) => {
    if (!isIP(r.address)) throw invalid(OP, `${OP}: ${JSON.stringify(r.address)} (for ${r.name}) is not an IP address`);
    // a name no DNS query can spell (`c.my net` of a network named with a space, say) is left out,
    // as Docker's resolver never answers it; the container's other names still are
    let name: string;
    try { name = normalizeName(r.name); } catch { return ''; }
    return `${name} ${r.address}\n`;
  }).join('');
}

/** Write `text` to `path` through a temp file in the same directory and a rename. */
export function writeAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  sweepTemps(path);
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try { writeSync(fd, text); fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw wrapError(e, `${OP}: write`, path);
  }
}

/**
 * The temporary files of `path` that writers killed between their write and their rename left
 * (`.NAME.PID.tmp` of a PID that is gone): removed by the next writer.
 */
export function sweepTemps(path: string): void {
  const dir = dirname(path), prefix = `.${basename(path)}.`;
  let names: string[];
  try { names = readdirSync(dir); } catch { return; }
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.tmp')) continue;
    const pid = Number(n.slice(prefix.length, -4));
    if (!Number.isSafeInteger(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(join(dir, n), { force: true });
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export function writeDnsConfig(path: string, c: DnsConfig): void {
  writeAtomic(path, formatDnsConfig(c));
}

/**
 * A network's table. The first name listed for an address answers its PTR query, so list a
 * container's primary name (Docker: `name.network`) before its aliases.
 */
export function writeDnsTable(path: string, records: DnsRecord[]): void {
  writeAtomic(path, formatDnsTable(records));
}

function lines(text: string): string[][] {
  return text.split('\n').map((l) => l.trim().split(/\s+/)).filter((w) => w[0] && !w[0].startsWith('#') && w.length >= 2);
}

/** Parse a conf as the monitor reads it (unknown keys and bad upstreams are skipped, as there). */
export function parseDnsConfig(text: string): DnsConfig {
  const c: DnsConfig = { upstreams: [], tables: [] };
  for (const [k, v] of lines(text)) {
    if (k === 'upstream') { try { c.upstreams.push(normalizeUpstream(v!)); } catch { /* skipped */ } }
    else if (k === 'table') c.tables.push(v!);
  }
  return c;
}

/** Parse a table as the monitor reads it (lines without a valid address are skipped). */
export function parseDnsTable(text: string): DnsRecord[] {
  return lines(text).filter(([, a]) => isIP(a!)).map(([n, a]) => ({ name: n!.replace(/\.$/, '').toLowerCase(), address: a! }));
}

/** The host's nameservers from its resolv.conf text, as upstreams (loopback ones included: the
 * monitor forwards from the host's network namespace, where they answer). */
export function upstreamsFromResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const [k, v] of lines(text)) {
    if (k !== 'nameserver') continue;
    // a zoned (link-local) address cannot be an upstream line: skipped
    if (isIP(v!) && !v!.includes('%') && !out.includes(v!)) out.push(v!);
  }
  return out;
}
