/**
 * Published host ports held by the container monitor (docs/PLAN.md, Monitor mode, `port_hold`):
 * bound, never listened on, in the caller's (the host's) network namespace for the container's
 * life. Everything runs inside a throwaway "host" netns: the runtime is launched from a driver
 * there, and the probes that try to take the ports run there too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, inNs, launchIn, netns, nodeInNs, removeCtr, skip, sleep, sleeper, type Ctr, type Launch } from '../network/dns-util.js';

/** Try to take a port the way a host server does (Node: SO_REUSEADDR on TCP listeners); prints "ok" or the error code. */
const TRY = `
import net from 'node:net';
import dgram from 'node:dgram';
const [proto, addr, port] = [process.argv[2], process.argv[3], Number(process.argv[4])];
if (proto === 'tcp') {
  const s = net.createServer();
  s.on('error', (e) => { console.log(e.code); process.exit(0); });
  s.listen(port, addr, () => { console.log('ok'); process.exit(0); });
} else {
  const s = dgram.createSocket({ type: addr.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
  s.on('error', (e) => { console.log(e.code); process.exit(0); });
  s.bind(port, addr, () => { console.log('ok'); process.exit(0); });
}
`;

describe('held host ports (port_hold)', { skip }, () => {
  let host: ReturnType<typeof netns>;
  const ctrs: Array<[Ctr, Launch | undefined]> = [];
  const stops: Array<() => Promise<void>> = [];
  let work: Ctr;

  const tryTake = (proto: string, addr: string, port: number): string => {
    const file = join(work.work, 'try.mjs');
    if (!existsSync(file)) writeFileSync(file, TRY);
    const r = inNs(host.path, process.execPath, [file, proto, addr, String(port)]);
    return r.out.trim() || r.err;
  };

  before(() => {
    host = netns('p');
    work = sleeper();
  });
  after(async () => {
    for (const [c, p] of ctrs) await removeCtr(c, p);
    for (const s of stops) await s();
    if (work) await removeCtr(work);
    host?.remove();
  });

  it('run fails early with EADDRINUSE naming the port when a host process listens there', async () => {
    const srv = await nodeInNs(host.path, `import net from 'node:net'; net.createServer().listen(18080, '0.0.0.0', () => console.log('ready'));`, work.work);
    stops.push(srv.stop);
    for (const [ip, what] of [['0.0.0.0', 'tcp 0.0.0.0:18080'], ['', 'tcp [::]:18080']] as const) {
      const c = sleeper();
      const r = launchIn(host.path, c, { holdPorts: [{ proto: 'udp', ip: '', port: 18080 }, { proto: 'tcp', ip, port: 18080 }] });
      ctrs.push([c, r.error ? undefined : r]);
      assert.ok(r.error, `the launch must fail: ${JSON.stringify(r)}`);
      assert.equal(r.error.code, 'EADDRINUSE', JSON.stringify(r.error));
      assert.equal(r.error.step, 'port_hold');
      assert.equal(r.error.path, what);
      assert.match(r.error.message, /18080/);
      assert.ok(!existsSync(`${c.root}/${c.id}`), 'nothing of the container is left');
    }
    await srv.stop();
    assert.equal(tryTake('udp', '0.0.0.0', 18080), 'ok', 'the udp hold of the failed run was let go');
  });

  it('holds the ports while the container lives, frees them when it exits', async () => {
    const c = sleeper();
    const pids = launchIn(host.path, c, { holdPorts: [
      { proto: 'tcp', ip: '0.0.0.0', port: 18081 }, { proto: 'udp', ip: '', port: 18082 }, { proto: 'tcp', ip: '::1', port: 18083 },
    ] });
    ctrs.push([c, pids]);
    assert.ok(!pids.error, JSON.stringify(pids));
    assert.ok(alive(pids.monitor));
    // a host server (SO_REUSEADDR, as most set it) cannot take them; another port is free
    assert.equal(tryTake('tcp', '0.0.0.0', 18081), 'EADDRINUSE');
    assert.equal(tryTake('tcp', '127.0.0.1', 18081), 'EADDRINUSE');
    assert.equal(tryTake('udp', '0.0.0.0', 18082), 'EADDRINUSE');
    assert.equal(tryTake('udp', '::', 18082), 'EADDRINUSE');
    assert.equal(tryTake('tcp', '::1', 18083), 'EADDRINUSE');
    assert.equal(tryTake('tcp', '0.0.0.0', 18084), 'ok');
    // a second hold of a held port fails as well (two containers cannot publish one port)
    const c2 = sleeper();
    const r2 = launchIn(host.path, c2, { holdPorts: [{ proto: 'tcp', ip: '0.0.0.0', port: 18081 }] });
    ctrs.push([c2, r2.error ? undefined : r2]);
    assert.equal(r2.error?.code, 'EADDRINUSE', JSON.stringify(r2));
    // the container exits: its monitor goes, and the ports with it
    process.kill(pids.init, 'SIGKILL');
    for (let i = 0; i < 500 && alive(pids.monitor); i++) await sleep(10);
    assert.ok(!alive(pids.monitor), 'the monitor exits with the container');
    assert.equal(tryTake('tcp', '0.0.0.0', 18081), 'ok');
    assert.equal(tryTake('udp', '0.0.0.0', 18082), 'ok');
    assert.equal(tryTake('tcp', '::1', 18083), 'ok');
  });

  it('sctp: held, or refused with EPROTONOSUPPORT when the kernel has no SCTP', (t) => {
    const c = sleeper();
    const r = launchIn(host.path, c, { holdPorts: [{ proto: 'sctp', ip: '0.0.0.0', port: 18085 }] });
    ctrs.push([c, r.error ? undefined : r]);
    t.diagnostic(r.error ? `sctp refused: ${r.error.message}` : 'sctp port held');
    if (r.error) {
      assert.equal(r.error.code, 'EPROTONOSUPPORT', JSON.stringify(r.error));
      assert.equal(r.error.path, 'sctp 0.0.0.0:18085');
      assert.match(r.error.message, /SCTP/);
    } else {
      assert.ok(alive(r.monitor));
    }
  });
});

describe('the runtime compiles holdPorts and dnsConfig', () => {
  it('port_hold first in pre (before joining a network namespace), dns before the release', async () => {
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
        log: '', maxSize: 0, maxFiles: 1, exitFile: '/e', socket: '/s', stdin: false, dnsConfig: '/run/dns.conf',
        holdPorts: [{ proto: 'tcp', ip: '0.0.0.0', port: 8080 }, { proto: 'udp', ip: '', port: 53 }, { proto: 'tcp', ip: '::1', port: 80 }],
      },
    } as never);
    const ops = (l: Array<{ op: string }>) => l.map((s) => s.op);
    assert.deepEqual(ops(plan.pre).slice(0, 4), ['port_hold', 'port_hold', 'port_hold', 'setns']);
    assert.deepEqual(plan.pre.slice(0, 3).map((s) => (s as unknown as { path: string }).path), ['tcp 0.0.0.0:8080', 'udp [::]:53', 'tcp [::1]:80']);
    const post = ops(plan.post);
    assert.ok(post.indexOf('dns') >= 0 && post.indexOf('dns') < post.indexOf('release') && post.indexOf('release') < post.indexOf('monitor'), post.join(' '));
  });
});
