/**
 * Published host ports relayed by the container monitor (docs/PLAN.md, Monitor mode, `port_proxy`;
 * rootless user networks): the host socket is bound in the caller's network namespace (first in
 * pre), the monitor then joins the container's and connects to the target there. Two throwaway
 * netns: "host" (the runtime is launched from a driver there, the clients run there) and "inner"
 * (the container joins it; the test's servers listen on its loopback). No packet leaves them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle, uniqueId } from '../helpers/bundle.js';
import { alive, inNs, launchIn, netns, nodeInNs, removeCtr, skip, sleep, type Ctr, type Launch } from '../network/dns-util.js';

/** In "inner": 9080 echoes (and ends after the client's end), 9081 answers `LEN SHA256` once the
 *  client ended, 9082 sends argv MiB then ends, 9053/udp answers `echo:` + the datagram. */
const SERVERS = `
import net from 'node:net';
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
const echo = net.createServer({ allowHalfOpen: true }, (c) => { c.on('error', () => {}); c.pipe(c); });
const digest = net.createServer({ allowHalfOpen: true }, (c) => {
  const h = createHash('sha256'); let n = 0;
  c.on('error', () => {});
  c.on('data', (d) => { h.update(d); n += d.length; });
  c.on('end', () => setTimeout(() => c.end(n + ' ' + h.digest('hex')), 50));
});
const big = net.createServer((c) => {
  c.on('error', () => {});
  const chunk = Buffer.alloc(1 << 20, 7); let left = Number(process.argv[2]);
  const more = () => { while (left > 0) { left--; if (!c.write(chunk)) return c.once('drain', more); } c.end(); };
  more();
});
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
echo.listen(9080, '127.0.0.1', () => digest.listen(9081, '127.0.0.1', () => big.listen(9082, '127.0.0.1', () => u.bind(9053, '127.0.0.1', () => console.log('ready')))));
`;

/** The clients, in "host": argv[2] = mode, argv[3] = port; one JSON line. */
const CLIENT = `
import net from 'node:net';
import dgram from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
const [mode, port, host] = [process.argv[2], Number(process.argv[3]), process.argv[4] || '127.0.0.1'];
const sha = (b) => createHash('sha256').update(b).digest('hex');
const out = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
setTimeout(() => out({ error: 'timeout' }), 20000);
if (mode === 'echo' || mode === 'digest') {
  const data = randomBytes(mode === 'echo' ? 4 << 20 : 3 << 20);
  const got = []; let ended = false;
  const c = net.connect(port, host, () => { c.write(data); c.end(); ended = true; });
  c.on('data', (d) => got.push(d));
  c.on('error', (e) => out({ error: e.code }));
  c.on('end', () => {
    const b = Buffer.concat(got);
    out(mode === 'echo' ? { sent: sha(data), got: sha(b), len: b.length, ended } : { want: data.length + ' ' + sha(data), got: b.toString() });
  });
} else if (mode === 'many') {
  // 40 connections at once, 256 KiB each way
  const res = await Promise.all(Array.from({ length: 40 }, () => new Promise((resolve) => {
    const data = randomBytes(256 << 10), got = [];
    const c = net.connect(port, host, () => { c.write(data); c.end(); });
    c.on('data', (d) => got.push(d));
    c.on('error', (e) => resolve(e.code));
    c.on('end', () => resolve(sha(Buffer.concat(got)) === sha(data) ? 'ok' : 'corrupt'));
  })));
  out({ res: [...new Set(res)] });
} else if (mode === 'big') {
  let n = 0; const t0 = process.hrtime.bigint();
  const c = net.connect(port, host);
  c.on('data', (d) => { n += d.length; });
  c.on('error', (e) => out({ error: e.code }));
  c.on('end', () => out({ bytes: n, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
} else if (mode === 'refused') {
  const c = net.connect(port, host, () => c.write('x'));
  let got = '';
  c.on('data', (d) => { got += d; });
  c.on('error', (e) => out({ error: e.code, got }));
  c.on('end', () => out({ end: true, got }));
} else if (mode === 'udp') {
  const res = {}; let left = 6;
  for (const k of ['a', 'b', 'c']) {
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => { (res[k] ??= []).push(m.toString()); if (--left === 0) out(res); });
    s.send(k + '1', port, host, () => s.send(k + '2', port, host));
  }
}
`;

/** Take a port as a host server does (Node sets SO_REUSEADDR on TCP listeners): "ok" or the error code. */
const TRY = `
import net from 'node:net';
import dgram from 'node:dgram';
const [proto, addr, port] = [process.argv[2], process.argv[3], Number(process.argv[4])];
if (proto === 'tcp') {
  const s = net.createServer();
  s.on('error', (e) => { console.log(e.code); process.exit(0); });
  s.listen(port, addr, () => { console.log('ok'); process.exit(0); });
} else {
  const s = dgram.createSocket('udp4');
  s.on('error', (e) => { console.log(e.code); process.exit(0); });
  s.bind(port, addr, () => { console.log('ok'); process.exit(0); });
}
`;

describe('relayed host ports (port_proxy)', { skip }, () => {
  let host: ReturnType<typeof netns>, inner: ReturnType<typeof netns>;
  let work: string;
  const ctrs: Array<[Ctr, Launch | undefined]> = [];
  const stops: Array<() => Promise<void>> = [];

  /** A container (busybox sleep) joining "inner": its monitor relays there. */
  const inInner = (nofile = 1024): Ctr => {
    const w = mkdtempSync(join(tmpdir(), 'berth-proxy-'));
    const b = makeBundle(join(w, 'bundle'), {
      process: { args: ['/bin/sleep', '1000'], rlimits: [{ type: 'RLIMIT_NOFILE', soft: nofile, hard: nofile }] },
      linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: inner.path }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
    }, { probe: false });
    return { id: uniqueId('proxy'), bundle: b.dir, work: w, root: join(w, 'state') };
  };
  const client = (mode: string, port: number, addr = '127.0.0.1') => {
    const r = inNs(host.path, process.execPath, [join(work, 'client.mjs'), mode, String(port), addr]);
    assert.equal(r.status, 0, r.err);
    return JSON.parse(r.out.trim()) as Record<string, unknown>;
  };
  const tryTake = (proto: string, addr: string, port: number) => inNs(host.path, process.execPath, [join(work, 'try.mjs'), proto, addr, String(port)]).out.trim();

  before(async () => {
    host = netns('px');
    inner = netns('pxc');
    work = mkdtempSync(join(tmpdir(), 'berth-proxy-'));
    writeFileSync(join(work, 'client.mjs'), CLIENT);
    writeFileSync(join(work, 'try.mjs'), TRY);
    const srv = await nodeInNs(inner.path, SERVERS, work, ['64']);
    stops.push(srv.stop);
  });
  after(async () => {
    for (const [c, p] of ctrs) await removeCtr(c, p);
    for (const s of stops) await s();
    if (work) rmSync(work, { recursive: true, force: true });
    host?.remove();
    inner?.remove();
  });

  it('relays TCP both ways (with half-close) and UDP per client, then frees the ports when the container exits', async (t) => {
    const c = inInner();
    const pids = launchIn(host.path, c, { proxyPorts: [
      { proto: 'tcp', ip: '', port: 18180, targetIp: '127.0.0.1', targetPort: 9080 },
      { proto: 'tcp', ip: '127.0.0.1', port: 18181, targetIp: '127.0.0.1', targetPort: 9081 },
      { proto: 'tcp', ip: '127.0.0.1', port: 18182, targetIp: '127.0.0.1', targetPort: 9082 },
      { proto: 'tcp', ip: '127.0.0.1', port: 18183, targetIp: '127.0.0.1', targetPort: 9099 },
      { proto: 'udp', ip: '127.0.0.1', port: 18153, targetIp: '127.0.0.1', targetPort: 9053 },
    ] });
    ctrs.push([c, pids.error ? undefined : pids]);
    assert.ok(!pids.error, JSON.stringify(pids));
    // 4 MiB there and back; the server ends after the client's end (half-close passed on), the client then sees its end
    const e = client('echo', 18180);
    assert.equal(e.got, e.sent, JSON.stringify(e));
    assert.equal(e.len, 4 << 20);
    // what the server got (all of it, then the end) comes back after the client shut its side down
    const d = client('digest', 18181);
    assert.equal(d.got, d.want, JSON.stringify(d));
    const b = client('big', 18182);
    assert.equal(b.bytes, 64 << 20, JSON.stringify(b));
    t.diagnostic(`64 MiB through the proxy in ${Math.round(b.ms as number)} ms (${Math.round(64 / ((b.ms as number) / 1000))} MiB/s)`);
    // nothing listens at the target: the client's connection is reset
    const r = client('refused', 18183);
    assert.equal(r.error, 'ECONNRESET', JSON.stringify(r));
    const u = client('udp', 18153);
    assert.deepEqual(u, { a: ['echo:a1', 'echo:a2'], b: ['echo:b1', 'echo:b2'], c: ['echo:c1', 'echo:c2'] });
    // held while the container lives; free once it exited
    assert.equal(tryTake('tcp', '0.0.0.0', 18180), 'EADDRINUSE');
    assert.equal(tryTake('udp', '127.0.0.1', 18153), 'EADDRINUSE');
    assert.ok(alive(pids.monitor));
    process.kill(pids.init, 'SIGKILL');
    for (let i = 0; i < 500 && alive(pids.monitor); i++) await sleep(10);
    assert.ok(!alive(pids.monitor), 'the monitor exits with the container');
    assert.equal(tryTake('tcp', '0.0.0.0', 18180), 'ok');
    assert.equal(tryTake('tcp', '127.0.0.1', 18181), 'ok');
    // the proxy closed the download's connection first (its TIME_WAIT is on the host port): bound again all the same
    assert.equal(tryTake('tcp', '127.0.0.1', 18182), 'ok');
    assert.equal(tryTake('udp', '127.0.0.1', 18153), 'ok');
  });

  it('short of fds: copies instead of splicing, and accepts wait for fds rather than failing', async () => {
    const c = inInner(64);
    // 64 fds for the monitor: the pipes of a few connections, then buffers, then a full table of fds
    const pids = launchIn(host.path, c, { proxyPorts: [{ proto: 'tcp', ip: '127.0.0.1', port: 18184, targetIp: '127.0.0.1', targetPort: 9080 }] }, ['prlimit', '--nofile=64']);
    ctrs.push([c, pids.error ? undefined : pids]);
    assert.ok(!pids.error, JSON.stringify(pids));
    assert.deepEqual(client('many', 18184), { res: ['ok'] });
    assert.deepEqual(client('echo', 18184).len, 4 << 20, 'it serves on afterwards');
  });

  it('fails early with EADDRINUSE naming the port when a host process has it', async () => {
    const srv = await nodeInNs(host.path, `import net from 'node:net'; net.createServer().listen(18190, '127.0.0.1', () => console.log('ready'));`, work);
    stops.push(srv.stop);
    const c = inInner();
    const r = launchIn(host.path, c, { proxyPorts: [
      { proto: 'udp', ip: '', port: 18190, targetIp: '127.0.0.1', targetPort: 9053 },
      { proto: 'tcp', ip: '127.0.0.1', port: 18190, targetIp: '127.0.0.1', targetPort: 9080 },
    ] });
    ctrs.push([c, r.error ? undefined : r]);
    assert.ok(r.error, `the launch must fail: ${JSON.stringify(r)}`);
    assert.equal(r.error.code, 'EADDRINUSE', JSON.stringify(r.error));
    assert.equal(r.error.step, 'port_proxy');
    assert.equal(r.error.path, 'tcp 127.0.0.1:18190');
    assert.match(r.error.message, /already in use/);
    assert.ok(!existsSync(`${c.root}/${c.id}`), 'nothing of the container is left');
    await srv.stop();
    assert.equal(tryTake('udp', '0.0.0.0', 18190), 'ok', 'the udp socket of the failed run was let go');
  });
});

describe('the runtime compiles proxyPorts', () => {
  it('port_proxy first in pre, before port_hold and any setns', async () => {
    const { compileInit } = await import('../../src/runtime/compile.js');
    const spec = {
      ociVersion: '1.0.2', root: { path: 'rootfs' },
      process: { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 }, env: [] },
      linux: { namespaces: [{ type: 'mount' }, { type: 'network', path: '/run/netns/elsewhere' }] },
    };
    const plan = compileInit({
      spec, bundle: '/b', rootfs: '/b/rootfs', fifo: '/f', foreground: false, noFifo: true, noPivot: false, noNewKeyring: true,
      preserveFds: 0, rootless: false, apparmor: false, selinux: false, id: 'x', relay: false,
      monitor: {
        log: '', maxSize: 0, maxFiles: 1, exitFile: '/e', socket: '/s', stdin: false,
        proxyPorts: [{ proto: 'tcp', ip: '', port: 8080, targetIp: '10.89.0.2', targetPort: 80 }, { proto: 'udp', ip: '::1', port: 53, targetIp: 'fd00::2', targetPort: 5353 }],
      },
    } as never);
    assert.deepEqual(plan.pre.slice(0, 3).map((s) => s.op), ['port_proxy', 'port_proxy', 'setns']);
    assert.deepEqual(plan.pre[0]!.args, ['tcp', '', 8080, '10.89.0.2', 80]);
    assert.deepEqual(plan.pre.slice(0, 2).map((s) => (s as unknown as { path: string }).path), ['tcp [::]:8080', 'udp [::1]:53']);
  });
});
