/**
 * The firewall's filtering on the real kernel, each test in throwaway namespaces (fw-lab.ts):
 * isolation between networks, icc, internal networks, the user chain, reload after the ruleset
 * is flushed, removal leaving nothing, errors naming the operation and nft's message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/lib/index.js';
import { withLab, probes, N1, N2, P_C3, P_TCP, STATE, C1_PORTS } from './fw-setup.js';

test('networks are isolated from each other and from routed outside access; icc on a bridge follows the network', async () => {
  await withLab(async ({ lab, fw }) => {
    // the external host gets a route to the container subnets (direct access attempt)
    lab.sh('x', 'ip route add 10.88.0.0/16 via 192.0.2.1');
    const got = await probes(lab, [
      ['c2', 'tcp', '10.88.1.2', 80],   // same network (icc): direct
      ['c3', 'tcp', '10.88.1.2', 80],   // other network: dropped
      ['c1', 'tcp', '10.88.2.2', 80],   // other network, other direction: dropped
      ['x', 'tcp', '10.88.1.2', 80],    // routed from outside, not published: dropped
      ['x', 'tcp', '192.0.2.1', 8081],  // published port of the other network: fine
      ['c1', 'tcp', '192.0.2.1', 8081], // a container reaching another network's published port
      ['c2', 'tcp', 'fd88:1::2', 80],   // IPv6: the same rules
      ['c3', 'tcp', 'fd88:1::2', 80],
      ['c1', 'tcp', 'fd88:2::2', 80],
    ]);
    assert.deepEqual(got, ['c1 10.88.1.3', 'timeout', 'timeout', 'timeout', 'c3 192.0.2.2', 'c3 10.88.2.1', 'c1 fd88:1::3', 'timeout', 'timeout']);
    // icc off: containers of one bridge no longer reach each other (br_netfilter passes bridged traffic to forward)
    await fw.addNetwork({ ...N1, icc: false });
    assert.deepEqual(await probes(lab, [['c2', 'tcp', '10.88.1.2', 80], ['c2', 'tcp', 'fd88:1::2', 80]]), ['timeout', 'timeout']);
    await fw.addNetwork(N1);
    assert.equal(await lab.probe('c2', 'tcp', '10.88.1.2', 80), 'c1 10.88.1.3');
  });
});

test('an internal network has no route in or out, its containers still reach each other', async () => {
  await withLab(async ({ lab, fw }) => {
    assert.deepEqual(await probes(lab, [['c3', 'tcp', '192.0.2.2', 7000], ['x', 'tcp', '192.0.2.1', 8081]]), ['x 192.0.2.1', 'c3 192.0.2.2']);
    await fw.addNetwork({ ...N1, internal: true });
    await fw.addNetwork({ ...N2, internal: true });
    const got = await probes(lab, [
      ['c3', 'tcp', '192.0.2.2', 7000], // out: dropped
      ['x', 'tcp', '192.0.2.1', 8081],  // in through a published port: dropped
      ['c1', 'tcp', '10.88.2.2', 80],   // from another network: dropped
      ['c1', 'tcp', '192.0.2.2', 7000],
      ['c2', 'tcp', '10.88.1.2', 80],   // within the internal network: fine
      ['c1', 'tcp', '2001:db8::2', 7000], // IPv6 out: dropped
      ['c2', 'tcp', 'fd88:1::2', 80],
    ]);
    assert.deepEqual(got, ['timeout', 'timeout', 'timeout', 'timeout', 'c1 10.88.1.3', 'timeout', 'c1 fd88:1::3']);
    // no masquerade rule for an internal network
    assert.doesNotMatch(lab.sh('h', 'nft list chain inet berth nat-out-br1'), /masquerade/);
  });
});

test('the user chain runs before berth\'s accepts and survives reload; berth never flushes it', async () => {
  await withLab(async ({ lab, fw }) => {
    // Docker's DOCKER-USER recipe: filter a published port (by its original destination port)
    lab.sh('h', 'nft add rule inet berth user iifname "eth0" meta l4proto tcp ct original proto-dst 8080 drop');
    assert.deepEqual(await probes(lab, [['x', 'tcp', '192.0.2.1', 8080], ['x', 'tcp', '192.0.2.1', 8081]]), ['timeout', 'c3 192.0.2.2']);
    await fw.reload(STATE);
    await fw.addNetwork(N1);
    assert.equal((await fw.list()).userRules, 1);
    assert.equal(await lab.probe('x', 'tcp', '192.0.2.1', 8080), 'timeout');
    lab.sh('h', 'nft flush chain inet berth user');
    assert.equal(await lab.probe('x', 'tcp', '192.0.2.1', 8080), 'c1 192.0.2.2');
  });
});

test('reload after `nft flush ruleset` restores everything; a second reload changes nothing; other tables untouched', async () => {
  await withLab(async ({ lab, fw }) => {
    // the host's own table, which berth must never change
    lab.sh('h', 'nft add table ip hostfw; nft add chain ip hostfw hostfwd "{ type filter hook forward priority 0; policy accept; }"; nft add rule ip hostfw hostfwd counter');
    lab.sh('h', 'nft flush ruleset');
    assert.equal((await fw.list()).table, false);
    assert.equal(await lab.probe('x', 'tcp', '192.0.2.1', 8080), 'error ECONNREFUSED');
    lab.sh('h', 'nft add table ip hostfw; nft add chain ip hostfw hostfwd "{ type filter hook forward priority 0; policy accept; }"; nft add rule ip hostfw hostfwd counter');
    const host = lab.sh('h', 'nft -s list table ip hostfw');
    // a stale network (not in the state) is removed by reload
    await fw.addNetwork({ ...N2, id: 'gone', bridge: 'brgone' });
    await fw.reload(STATE);
    const got = await probes(lab, [
      ['x', 'tcp', '192.0.2.1', 8080], ['x', 'udp', '192.0.2.1', 8053], ['x', 'tcp', '2001:db8::1', 8080],
      ['h', 'tcp', '127.0.0.1', 9080], ['c1', 'tcp', '192.0.2.1', 8080], ['c1', 'tcp', '192.0.2.2', 7000], ['c3', 'tcp', '10.88.1.2', 80],
    ]);
    assert.deepEqual(got, ['c1 192.0.2.2', 'c1u 192.0.2.2', 'c1 2001:db8::2', 'c1 10.88.1.1', 'c1 10.88.1.1', 'x 192.0.2.1', 'timeout']);
    const l = await fw.list();
    assert.deepEqual(l.bridges, ['br0', 'br1']);
    assert.equal(l.ports.length, 5);
    const once = lab.sh('h', 'nft list table inet berth');
    await fw.reload(STATE);
    assert.equal(lab.sh('h', 'nft list table inet berth'), once);
    // adding what is there changes nothing either
    await fw.addNetwork(N1);
    await fw.addPorts(C1_PORTS);
    assert.equal(lab.sh('h', 'nft list table inet berth'), once);
    assert.equal(lab.sh('h', 'nft -s list table ip hostfw'), host);
    assert.deepEqual(lab.sh('h', 'nft list tables').trim().split('\n').sort(), ['table inet berth', 'table ip hostfw']);
    // adding and removing a network or ports touches only their own elements and chains: the
    // other chains keep their rules, handles included
    const chains = () => ['forward', 'guard', 'prerouting', 'output', 'postrouting', 'published', 'user', 'fwd-in-br0', 'nat-out-br1']
      .map((c) => lab.sh('h', `nft -a list chain inet berth ${c}`)).join('');
    const before = chains();
    const n3 = { ...N2, id: 'net3', bridge: 'br3', subnets: ['10.88.3.0/24'] };
    await fw.addNetwork(n3);
    await fw.addPorts([{ ...P_C3, netId: 'net3', hostPort: 8083, containerIp: '10.88.3.2' }]);
    assert.equal(chains(), before);
    await fw.removePorts([{ ...P_C3, netId: 'net3', hostPort: 8083, containerIp: '10.88.3.2' }]);
    await fw.removeNetwork(n3);
    assert.equal(chains(), before);
    assert.equal(lab.sh('h', 'nft list table inet berth'), once);
  }, true);
});

test('removePorts and removeNetwork leave nothing, and are idempotent (also on a flushed ruleset)', async () => {
  await withLab(async ({ lab, fw }) => {
    await fw.removePorts(C1_PORTS);
    await fw.removePorts([P_C3]);
    await fw.removePorts([P_C3]);
    await fw.removeNetwork(N1);
    await fw.removeNetwork(N2);
    await fw.removeNetwork(N2);
    const l = await fw.list();
    assert.deepEqual({ bridges: l.bridges, chains: l.chains, ports: l.ports, hairpin: l.hairpin },
      { bridges: [], chains: [], ports: [], hairpin: [] });
    assert.doesNotMatch(lab.sh('h', 'nft list table inet berth'), /br0|br1|10\.88|fd88/);
    lab.sh('h', 'nft flush ruleset');
    await fw.removeNetwork(N1);
    await fw.removePorts([P_TCP]);
    assert.equal(lab.sh('h', 'nft list ruleset').trim(), '');
  });
});

test('a failing transaction is a BerthError naming the operation and nft\'s message; bad input is refused before nft', async () => {
  await withLab(async ({ lab, fw }) => {
    // a map of berth's with another type (as an older or foreign ruleset could leave)
    lab.sh('h', 'nft add table inet berth; nft add map inet berth fwd-in "{ type ipv4_addr : verdict; }"');
    await assert.rejects(fw.addNetwork(N1), (e: unknown) => {
      assert.ok(e instanceof BerthError);
      assert.equal(e.op, 'firewall add network');
      assert.match(e.message, /^firewall add network net1 \(br0\): nft: .+/);
      assert.equal(e.kind, 'system');
      return true;
    });
    await assert.rejects(fw.addPorts([{ ...P_TCP, hostIp: '::1' }]), /firewall add ports port ::1:8080\/tcp: host address ::1 and container address 10.88.1.2 are of different families/);
    await assert.rejects(fw.addPorts([{ ...P_TCP, hostPort: 70000 }]), /bad port number 70000/);
    await assert.rejects(fw.addNetwork({ ...N1, bridge: 'a bridge' }), /bad bridge name/);
    await assert.rejects(fw.addNetwork({ ...N1, subnets: ['10.0.0.0/33'] }), /not a subnet/);
    // sctp is published like tcp and udp (no sctp peer here: checked in the maps)
    lab.sh('h', 'nft delete table inet berth');
    await fw.addPorts([{ ...P_TCP, proto: 'sctp', hostPort: 3868, containerPort: 3868 }]);
    assert.deepEqual((await fw.list()).ports, [{ proto: 'sctp', hostIp: '', hostPort: 3868, containerIp: '10.88.1.2', containerPort: 3868 }]);
  }, false);
});
