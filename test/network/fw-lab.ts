/**
 * A throwaway network lab for the firewall tests, never the machine's own network: a "host"
 * namespace with bridges, "container" namespaces on veths plugged into them (hairpin mode on, as
 * the engine sets it), and an "external host" namespace on an uplink veth (eth0). Everything is
 * made with `ip` (batched per namespace) and removed by close().
 *
 *   X (external) eth0 192.0.2.2/24 2001:db8::2/64 ── eth0 192.0.2.1/24 2001:db8::1/64  H (host)
 *   H: bridge per network, gateway .1; containers .2, .3, … with default routes via the gateway
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PEER = join(dirname(fileURLToPath(import.meta.url)), 'fw-peer.js');

export interface LabNet { bridge: string; v4: string /* e.g. 10.88.1 */; v6?: string /* e.g. fd88:1:: */ }
export interface LabContainer { name: string; net: string /* bridge */; host: number /* last octet */ }

export interface Lab {
  id: string;
  /** /run/netns path of a role: 'h', 'x' or a container name */
  nsPath(role: string): string;
  /** runs a command in a role's namespace (sync); returns stdout */
  sh(role: string, script: string): string;
  /** starts a peer server; resolves when it listens */
  server(role: string, proto: 'tcp' | 'udp', port: number, name: string): Promise<void>;
  /** one connection from a role: the server's answer, "timeout" or "error CODE" */
  probe(role: string, proto: 'tcp' | 'udp', host: string, port: number, timeoutMs?: number): Promise<string>;
  close(): void;
}

function ipBatch(ns: string | undefined, lines: string[]): void {
  const args = ns ? ['-n', ns, '-batch', '-'] : ['-batch', '-'];
  execFileSync('ip', args, { input: lines.join('\n') + '\n', stdio: ['pipe', 'pipe', 'pipe'] });
}

export function makeLab(nets: LabNet[], containers: LabContainer[]): Lab {
  const id = `berth-t-fw${randomBytes(3).toString('hex')}`;
  const name = (role: string) => `${id}-${role}`;
  const roles = ['h', 'x', ...containers.map((c) => c.name)];
  const made: string[] = [];
  const children: ChildProcess[] = [];
  const close = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const r of made) { try { execFileSync('ip', ['netns', 'del', name(r)], { stdio: 'ignore' }); } catch { /* gone */ } }
  };
  try {
    for (const r of roles) { execFileSync('ip', ['netns', 'add', name(r)]); made.push(r); }
    const h: string[] = ['link set lo up'];
    for (const n of nets) {
      h.push(`link add ${n.bridge} type bridge`, `link set ${n.bridge} up`, `addr add ${n.v4}.1/24 dev ${n.bridge}`);
      if (n.v6) h.push(`addr add ${n.v6}1/64 dev ${n.bridge} nodad`);
    }
    h.push(`link add eth0 type veth peer name eth0 netns ${name('x')}`, 'link set eth0 up',
      'addr add 192.0.2.1/24 dev eth0', 'addr add 2001:db8::1/64 dev eth0 nodad');
    for (const c of containers) {
      const v = `v-${c.name}`;
      h.push(`link add ${v} type veth peer name eth0 netns ${name(c.name)}`, `link set ${v} master ${c.net}`,
        `link set ${v} type bridge_slave hairpin on`, `link set ${v} up`);
    }
    ipBatch(name('h'), h);
    ipBatch(name('x'), ['link set lo up', 'link set eth0 up', 'addr add 192.0.2.2/24 dev eth0', 'addr add 2001:db8::2/64 dev eth0 nodad']);
    for (const c of containers) {
      const n = nets.find((x) => x.bridge === c.net)!;
      const l = ['link set lo up', `addr add ${n.v4}.${c.host}/24 dev eth0`, 'link set eth0 up', `route add default via ${n.v4}.1`];
      if (n.v6) l.push(`addr add ${n.v6}${c.host.toString(16)}/64 dev eth0 nodad`, `route add default via ${n.v6}1`);
      ipBatch(name(c.name), l);
    }
    // what the engine sets on the host (docs/firewall.md)
    const sysctls = ['net/ipv4/ip_forward=1', 'net/ipv6/conf/all/forwarding=1', 'net/bridge/bridge-nf-call-iptables=1',
      'net/bridge/bridge-nf-call-ip6tables=1', ...nets.map((n) => `net/ipv4/conf/${n.bridge}/route_localnet=1`)];
    execFileSync('nsenter', [`--net=/run/netns/${name('h')}`, 'sh', '-ec',
      sysctls.map((s) => { const [k, v] = s.split('='); return `echo ${v} > /proc/sys/${k}`; }).join('\n')]);
  } catch (err) {
    close();
    throw err;
  }
  const nsPath = (role: string) => `/run/netns/${name(role)}`;
  return {
    id,
    nsPath,
    sh(role, script) {
      return execFileSync('nsenter', [`--net=${nsPath(role)}`, 'sh', '-ec', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    },
    server(role, proto, port, label) {
      const child = spawn('nsenter', [`--net=${nsPath(role)}`, process.execPath, PEER, 'server', proto, String(port), label],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      return new Promise((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready')) resolve(); });
        child.on('exit', (code) => reject(new Error(`server ${label} in ${role} exited (${code})`)));
      });
    },
    probe(role, proto, host, port, timeoutMs = 1500) {
      return new Promise((resolve, reject) => {
        execFile('nsenter', [`--net=${nsPath(role)}`, process.execPath, PEER, 'client', proto, host, String(port), String(timeoutMs)],
          { encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
      });
    },
    close,
  };
}
