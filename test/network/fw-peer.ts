/**
 * Test peer for the firewall tests, run inside a test network namespace (nsenter --net=…):
 *   node fw-peer.js server tcp|udp PORT NAME   answers "NAME PEER-ADDRESS" to each connection or datagram;
 *                                              prints "ready" once listening (IPv4 and IPv6)
 *   node fw-peer.js client tcp|udp HOST PORT [TIMEOUT_MS]
 *                                              prints the answer, or "timeout" / "error CODE"
 */
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';

const [mode, proto, a, b, c] = process.argv.slice(2);
const peer = (addr: string | undefined) => String(addr).replace(/^::ffff:/, '');

if (mode === 'server') {
  const port = Number(a);
  const name = b ?? 'server';
  if (proto === 'tcp') {
    const srv = createServer((s) => { s.on('error', () => {}); s.end(`${name} ${peer(s.remoteAddress)}`); });
    srv.listen({ host: '::', port, ipv6Only: false }, () => console.log('ready'));
  } else {
    const sock = createSocket({ type: 'udp6', ipv6Only: false });
    sock.on('message', (_m, r) => sock.send(`${name} ${peer(r.address)}`, r.port, r.address));
    sock.bind(port, '::', () => console.log('ready'));
  }
} else if (mode === 'client') {
  const host = a!, port = Number(b), timeout = Number(c ?? 1500);
  const done = (s: string) => { console.log(s); process.exit(0); };
  setTimeout(() => done('timeout'), timeout).unref();
  if (proto === 'tcp') {
    const s = connect({ host, port });
    let data = '';
    s.on('data', (d) => { data += d.toString(); });
    s.on('end', () => done(data || 'empty'));
    s.on('error', (e: NodeJS.ErrnoException) => done(`error ${e.code}`));
  } else {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.on('message', (m) => done(m.toString()));
    sock.on('error', (e: NodeJS.ErrnoException) => done(`error ${e.code}`));
    sock.send('ping', port, host);
  }
} else {
  console.error('usage: fw-peer server|client …');
  process.exit(2);
}
