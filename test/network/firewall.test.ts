/**
 * The firewall on the real kernel, each test in throwaway namespaces (fw-lab.ts): published ports
 * from everywhere Docker's work, masquerade, the loopback guard. Every expected answer names the
 * server and the source address it saw, so a missing DNAT or masquerade rule fails the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, probes, P_TCP, P_V6, P_LO } from './fw-setup.js';

test('published tcp/udp ports: from another host, the host (own IP, 127.0.0.1), containers, hairpin; v6', async () => {
  await withLab(async ({ lab, fw }) => {
    const got = await probes(lab, [
      ['x', 'tcp', '192.0.2.1', 8080],      // another host: DNAT, source kept
      ['x', 'udp', '192.0.2.1', 8053],
      ['x', 'tcp', '2001:db8::1', 8080],    // IPv6 published port
      ['h', 'tcp', '192.0.2.1', 8080],      // the host on its own IP (output hook)
      ['h', 'tcp', '127.0.0.1', 8080],      // the host on 127.0.0.1: route_localnet + masquerade
      ['h', 'tcp', '127.0.0.1', 9080],      // a port published on 127.0.0.1 only
      ['h', 'udp', '127.0.0.1', 8053],
      ['c2', 'tcp', '192.0.2.1', 8080],     // another container on the same network
      ['c3', 'tcp', '192.0.2.1', 8080],     // a container on another network (masqueraded by its network)
      ['c1', 'tcp', '192.0.2.1', 8080],     // hairpin: the container through its own published port
      ['c1', 'tcp', '192.0.2.2', 7000],     // a container going out: masqueraded to the host's address
      ['x', 'tcp', '192.0.2.1', 9080],      // 127.0.0.1-only port: not from another host
      ['c1', 'tcp', '2001:db8::1', 8080],   // IPv6 hairpin
      ['c2', 'tcp', '2001:db8::1', 8080],   // IPv6 from another container
      ['c1', 'tcp', '2001:db8::2', 7000],   // IPv6 going out: masqueraded
    ]);
    assert.deepEqual(got, [
      'c1 192.0.2.2', 'c1u 192.0.2.2', 'c1 2001:db8::2', 'c1 192.0.2.1', 'c1 10.88.1.1', 'c1 10.88.1.1', 'c1u 10.88.1.1',
      'c1 10.88.1.3', 'c1 10.88.1.1', 'c1 10.88.1.1', 'x 192.0.2.1', 'error ECONNREFUSED',
      'c1 fd88:1::1', 'c1 fd88:1::3', 'x 2001:db8::1',
    ]);
    // unpublished: the same paths fail
    await fw.removePorts([P_TCP, P_V6, P_LO]);
    const after = await probes(lab, [['x', 'tcp', '192.0.2.1', 8080], ['h', 'tcp', '127.0.0.1', 8080], ['x', 'tcp', '2001:db8::1', 8080], ['h', 'tcp', '127.0.0.1', 9080]]);
    assert.deepEqual(after, ['error ECONNREFUSED', 'error ECONNREFUSED', 'error ECONNREFUSED', 'error ECONNREFUSED']);
    // and come back when published again (addPorts is idempotent: twice is the same)
    await fw.addPorts([P_TCP, P_V6, P_LO]);
    await fw.addPorts([P_TCP, P_V6, P_LO]);
    assert.deepEqual(await probes(lab, [['x', 'tcp', '192.0.2.1', 8080], ['h', 'tcp', '127.0.0.1', 9080]]), ['c1 192.0.2.2', 'c1 10.88.1.1']);
  });
});

test('a port re-published to another container replaces the stale element; removePorts of the old one leaves the new', async () => {
  await withLab(async ({ lab, fw }) => {
    const moved = { ...P_TCP, containerIp: '10.88.1.3' };
    await fw.addPorts([moved]);
    assert.equal(await lab.probe('x', 'tcp', '192.0.2.1', 8080), 'c2 192.0.2.2');
    await fw.removePorts([P_TCP]); // the dead container's port: no longer its element
    assert.equal(await lab.probe('x', 'tcp', '192.0.2.1', 8080), 'c2 192.0.2.2');
    const l = await fw.list();
    assert.ok(l.hairpin.includes('10.88.1.3:80/tcp'));
  });
});

test('guard: packets to 127.0.0.0/8 from another interface are dropped (route_localnet would DNAT them)', async () => {
  await withLab(async ({ lab }) => {
    // the external host routes 127.0.0.1 to the host (as a hostile neighbour on the LAN can)
    lab.sh('x', [
      'echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet',
      'ip rule add pref 100 lookup local', 'ip rule del pref 0',
      'ip rule add pref 10 to 127.0.0.1 lookup 100',
      'ip route add 127.0.0.1/32 via 192.0.2.1 dev eth0 src 192.0.2.2 table 100',
    ].join('\n'));
    assert.equal(await lab.probe('x', 'tcp', '127.0.0.1', 9080), 'timeout');
    // the guard is what stops it: without its rules the port on 127.0.0.1 answers the neighbour
    lab.sh('h', 'nft flush chain inet berth guard');
    assert.equal(await lab.probe('x', 'tcp', '127.0.0.1', 9080), 'c1 192.0.2.2');
  });
});
