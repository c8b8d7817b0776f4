/**
 * Rootless networking (issue 17, part 2), as a real unprivileged user made here (useradd,
 * subordinate id ranges), through the real CLI run with runuser: pasta's published ports are
 * chosen and recorded as rootful ones — inspect's NetworkSettings.Ports and HostConfig.PortBindings,
 * ps's PORTS, `berth port` — `-p CPORT` gets a free host port, and all are answered from the host.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchText, netMissing, netUser, type TestUser } from './user-util.js';

describe('rootless networking: published ports as rootful shows them', { concurrency: false }, () => {
  const why = netMissing('/usr/bin/pasta');
  let u: TestUser | undefined;
  let done = () => {};
  const berth = (args: string[]) => u!.berth(args, { timeout: 60_000 });

  before(() => {
    if (why) return;
    ({ user: u, done } = netUser('brn'));
  });

  after(() => {
    if (!u) return;
    berth(['rm', '-f', 'rl-ports']);
    done();
  });

  it('inspect, ps and port show pasta\'s ports; -p CPORT gets a free host port; rm releases them', async (t) => {
    if (why) return t.skip(why);
    const port = 20000 + Math.floor(Math.random() * 20000);
    let r = berth(['run', '-d', '--name', 'rl-ports', '-p', `127.0.0.1:${port}:80`, '-p', '81', 'busybox:latest', 'sh', '-c',
      'echo eighty > /80.html; echo eighty-one > /81.html; httpd -p 81 -h /; exec httpd -f -p 80 -h /']);
    assert.equal(r.code, 0, r.err);
    r = berth(['inspect', '--format', '{{json .NetworkSettings.Ports}}|{{json .HostConfig.PortBindings}}', 'rl-ports']);
    assert.equal(r.code, 0, r.err);
    const [ports, bindings] = r.out.trim().split('|').map((s) => JSON.parse(s!)) as [Record<string, { HostIp: string; HostPort: string }[] | null>, unknown];
    assert.deepEqual(ports['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    const any = ports['81/tcp'];
    assert.ok(any && any.length === 2, JSON.stringify(ports));
    assert.deepEqual(any.map((b) => b.HostIp), ['0.0.0.0', '::']);
    const free = Number(any[0]!.HostPort);
    assert.ok(free > 1024 && free !== port, String(free));
    assert.deepEqual(bindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }], '81/tcp': [{ HostIp: '', HostPort: '' }] });
    // answered from the host on both
    assert.equal(await fetchText(`http://127.0.0.1:${port}/80.html`), 'eighty\n');
    assert.equal(await fetchText(`http://127.0.0.1:${free}/81.html`), 'eighty-one\n');
    r = berth(['ps', '--format', '{{.Ports}}']);
    assert.equal(r.out.trim(), `127.0.0.1:${port}->80/tcp, 0.0.0.0:${free}->81/tcp, :::${free}->81/tcp`);
    r = berth(['port', 'rl-ports']);
    assert.equal(r.out, `80/tcp -> 127.0.0.1:${port}\n81/tcp -> 0.0.0.0:${free}\n81/tcp -> [::]:${free}\n`);
    r = berth(['port', 'rl-ports', '80']);
    assert.equal(r.out, `127.0.0.1:${port}\n`);
    // stopped: no ports shown, and the host ports serve another container again
    r = berth(['stop', '-t', '1', 'rl-ports']);
    assert.equal(r.code, 0, r.err);
    r = berth(['inspect', '--format', '{{json .NetworkSettings.Ports}}', 'rl-ports']);
    assert.deepEqual(JSON.parse(r.out), {});
    assert.equal(berth(['port', 'rl-ports']).out, '');
    r = berth(['start', 'rl-ports']);
    assert.equal(r.code, 0, r.err);
    assert.equal(await fetchText(`http://127.0.0.1:${port}/80.html`), 'eighty\n');
    r = berth(['rm', '-f', 'rl-ports']);
    assert.equal(r.code, 0, r.err);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  });

  it('a host port another process holds: refused when asked for (pasta would skip it silently), passed over when berth chooses', async (t) => {
    if (why) return t.skip(why);
    // a server of the test's (root) on 127.0.0.1: pasta's 0.0.0.0 bind would fail, its [::] one not
    const listen = (port: number) => new Promise<Server>((res, rej) => { const s = createServer().once('error', rej).listen(port, '127.0.0.1', () => res(s)); });
    const busy = await listen(0);
    const port = (busy.address() as AddressInfo).port;
    // the lowest port of the ephemeral range, which berth tries first for -p CPORT, held too
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const low = await listen(lo).catch(() => undefined);
    try {
      let r = berth(['run', '-d', '--name', 'rl-busy', '-p', `${port}:80`, 'busybox:latest', 'httpd', '-f', '-p', '80']);
      assert.equal(r.code, 125);
      assert.match(r.err, new RegExp(`host port 0\\.0\\.0\\.0:${port}/tcp is already in use by another process`));
      assert.equal(berth(['ps', '-q', '--filter', 'name=rl-busy']).out, '', 'not running');
      berth(['rm', '-f', 'rl-busy']);
      r = berth(['run', '-d', '--name', 'rl-busy', '-p', '80', 'busybox:latest', 'sh', '-c', 'echo chosen > /c.html; exec httpd -f -p 80 -h /']);
      assert.equal(r.code, 0, r.err);
      const chosen = Number(berth(['port', 'rl-busy', '80']).out.split('\n')[0]!.split(':').pop());
      if (low) assert.notEqual(chosen, lo, 'the held lowest port was passed over');
      assert.equal(await fetchText(`http://127.0.0.1:${chosen}/c.html`), 'chosen\n');
    } finally {
      berth(['rm', '-f', 'rl-busy']);
      busy.close();
      low?.close();
    }
  });

  it('network create of a macvlan is refused (rootless networks are bridges), and leaves no record', (t) => {
    if (why) return t.skip(why);
    const r = berth(['network', 'create', '-d', 'macvlan', '-o', 'parent=lo', 'rl-net1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /create network: driver macvlan: not supported by rootless berth .*use the bridge driver/);
    assert.doesNotMatch(berth(['network', 'ls', '--format', '{{.Name}}']).out, /rl-net1/);
  });
});
