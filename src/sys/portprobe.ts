/**
 * Can a host port be bound right now? A synchronous probe (socket, bind, close through libc), for
 * choosing host ports inside a store transaction: a port some other process of the machine holds
 * (another user's berth, a host server) is not chosen for `-p CPORT`, and an explicit one that is
 * taken is refused before a forwarder that would skip it silently (pasta binds what it can).
 */
import { koffi, libcLibrary } from './fsops.js';

const AF_INET = 2, AF_INET6 = 10, SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1, SO_REUSEADDR = 2, IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26, EADDRINUSE = 98;

let fns: {
  socket: (d: number, t: number, p: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number;
  close: (fd: number) => number;
} | undefined;

function libc() {
  if (!fns) {
    const lib = libcLibrary();
    fns = {
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
      close: lib.func('int close(int fd)'),
    };
  }
  return fns;
}

function v4(ip: string): Buffer | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  return m ? Buffer.from(m.slice(1).map(Number)) : undefined;
}

function v6(ip: string): Buffer | undefined {
  if (!ip.includes(':')) return undefined;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  const h = part(head), t = part(tail);
  if (t.length && v4(t[t.length - 1]!)) return undefined; // (v4-mapped forms are not probed)
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return b;
}

/** One socket of `proto` bound to ip:port and closed at once: false only when the port is in use. */
function bindable(proto: 'tcp' | 'udp', family: 4 | 6, addr: Buffer, port: number): boolean {
  const f = libc();
  const fd = f.socket(family === 4 ? AF_INET : AF_INET6, (proto === 'tcp' ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return true; // no such family here: nothing can hold the port there
  try {
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    // as a server binds (TIME_WAIT of old connections does not hold a port)
    if (proto === 'tcp') f.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4);
    let sa: Buffer;
    if (family === 4) {
      sa = Buffer.alloc(16);
      sa.writeUInt16LE(AF_INET, 0);
      sa.writeUInt16BE(port, 2);
      addr.copy(sa, 4);
    } else {
      f.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, one, 4);
      sa = Buffer.alloc(28);
      sa.writeUInt16LE(AF_INET6, 0);
      sa.writeUInt16BE(port, 2);
      addr.copy(sa, 8);
    }
    return f.bind(fd, sa, sa.length) === 0 || koffi().errno() !== EADDRINUSE;
  } finally {
    f.close(fd);
  }
}

/**
 * Is `port` free for `proto` on `ip` ('' = every address: both 0.0.0.0 and [::])? Only a bind
 * that fails says no (an address this machine does not have is left for the real bind to report).
 */
export function hostPortFree(proto: 'tcp' | 'udp' | 'sctp', ip: string, port: number): boolean {
  if (proto === 'sctp') return true;
  const wants: Array<[4 | 6, Buffer]> = [];
  if (!ip || ip === '0.0.0.0' || ip === '::') {
    if (ip !== '::') wants.push([4, Buffer.alloc(4)]);
    if (ip !== '0.0.0.0') wants.push([6, Buffer.alloc(16)]);
  } else {
    const a4 = v4(ip), a6 = a4 ? undefined : v6(ip);
    if (a4) wants.push([4, a4]);
    else if (a6) wants.push([6, a6]);
  }
  return wants.every(([fam, addr]) => bindable(proto, fam, addr, port));
}
