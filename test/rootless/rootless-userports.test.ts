/**
 * Published ports of rootless containers on a user-defined network (issue 17), as a real
 * unprivileged user made here, through the real CLI: the container's monitor listens on the host
 * port (bound in the host's network namespace before it enters the rootless one) and relays to
 * the container's address on the bridge (native/monitor_proxy.c). The ports are chosen and shown
 * as rootful ones (inspect, ps, `port`); stop and rm free them; nothing of the container is left.
 * Only the host's loopback is used (127.0.0.1 host ports).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchText, netMissing, netUser, type TestUser } from './user-util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether this process can listen on 127.0.0.1:port (the port is free). */
function canBind(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

describe('rootless user networks: published ports relayed by the monitor', { concurrency: false }, () => {
  const why = netMissing('/usr/bin/pasta', '/usr/bin/nsenter');
  let u: TestUser | undefined;
  let done = () => {};
  const berth = (args: string[]) => u!.berth(args, { timeout: 60_000 });
  const procs = () => spawnSync('ps', ['-u', u!.name, '-o', 'pid=,args='], { encoding: 'utf8' }).stdout.trim();

  before(() => {
    if (why) return;
    ({ user: u, done } = netUser('bru'));
  });

  after(() => {
    if (!u) return;
    berth(['rm', '-f', 'ru-web']);
    berth(['network', 'rm', 'ru-net']);
    done();
  });

  it('-p on a user network: served from the host, shown by inspect, ps and port; stop and rm free the port', async (t) => {
    if (why) return t.skip(why);
    let r = berth(['network', 'create', 'ru-net']);
    assert.equal(r.code, 0, r.err);
    // sctp cannot be relayed: refused at create, naming the port
    r = berth(['create', '--name', 'ru-sctp', '--network', 'ru-net', '-p', '127.0.0.1::80/sctp', 'busybox:latest', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.err, /-p 80\/sctp: rootless berth forwards tcp and udp only/);
    r = berth(['run', '-d', '--name', 'ru-web', '--network', 'ru-net', '-p', '127.0.0.1::80', 'busybox:latest', 'sh', '-c',
      'mkdir /www; echo hello > /www/i.html; dd if=/dev/zero of=/www/big bs=1M count=8 2>/dev/null; exec httpd -f -p 80 -h /www']);
    assert.equal(r.code, 0, r.err);
    r = berth(['inspect', '--format', '{{json .NetworkSettings.Ports}}', 'ru-web']);
    assert.equal(r.code, 0, r.err);
    const ports = JSON.parse(r.out) as Record<string, { HostIp: string; HostPort: string }[] | null>;
    assert.equal(ports['80/tcp']?.length, 1, r.out);
    assert.equal(ports['80/tcp']![0]!.HostIp, '127.0.0.1');
    const port = Number(ports['80/tcp']![0]!.HostPort);
    assert.ok(port > 1024, r.out);
    assert.equal(berth(['port', 'ru-web', '80']).out, `127.0.0.1:${port}\n`);
    assert.equal(berth(['ps', '--format', '{{.Ports}}', '--filter', 'name=ru-web']).out.trim(), `127.0.0.1:${port}->80/tcp`);
    // from the host, through the monitor, to the container's address on the bridge
    assert.equal(await fetchText(`http://127.0.0.1:${port}/i.html`), 'hello\n');
    const big = await (await fetch(`http://127.0.0.1:${port}/big`)).arrayBuffer();
    assert.equal(big.byteLength, 8 << 20);
    assert.equal(await canBind(port), false, 'the host port is taken while the container runs');
    // stopped: the port is free; started again: served again
    r = berth(['stop', '-t', '1', 'ru-web']);
    assert.equal(r.code, 0, r.err);
    assert.equal(await canBind(port), true, 'stop frees the host port');
    r = berth(['start', 'ru-web']);
    assert.equal(r.code, 0, r.err);
    r = berth(['port', 'ru-web', '80']);
    const again = Number(/:(\d+)\n$/.exec(r.out)?.[1]);
    assert.ok(again > 1024, r.out);
    assert.equal(await fetchText(`http://127.0.0.1:${again}/i.html`), 'hello\n');
    r = berth(['rm', '-f', 'ru-web']);
    assert.equal(r.code, 0, r.err);
    assert.equal(await canBind(again), true, 'rm frees the host port');
    await assert.rejects(fetch(`http://127.0.0.1:${again}/i.html`));
    // only the rootless network namespace's holder and its pasta are left while the network exists
    let left = procs();
    for (let i = 0; i < 50 && /berth-monitor|httpd/.test(left); i++) { await sleep(100); left = procs(); }
    assert.doesNotMatch(left, /berth-monitor|httpd|berth-helper/, left);
    r = berth(['network', 'rm', 'ru-net']);
    assert.equal(r.code, 0, r.err);
    left = procs();
    for (let i = 0; i < 50 && left; i++) { await sleep(100); left = procs(); }
    assert.equal(left, '');
  });
});
