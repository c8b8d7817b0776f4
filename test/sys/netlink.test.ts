/**
 * Network steps through `berth-helper net` (src/sys/netlink.ts, native/steps_net.c) on the real
 * kernel, each test in throwaway network namespaces of its own: nothing touches the machine's
 * own network, and every step list starts with `netns <throwaway>`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BerthError } from '../../src/lib/index.js';
import { netStep as n, runNetSteps } from '../../src/sys/index.js';
import { tempNetns, inNs } from './netlink-ns.js';

function links(ns: string): Array<{ ifname: string; link_type: string; flags: string[]; linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> }; master?: string; mtu: number; address: string }> {
  return JSON.parse(inNs(ns, ['ip', '-d', '-j', 'link', 'show']).out);
}

function addrs(ns: string, dev: string): Array<{ local: string; prefixlen: number; family: string; tentative?: boolean; flags?: string[] }> {
  const j = JSON.parse(inNs(ns, ['ip', '-j', 'addr', 'show', 'dev', dev]).out) as Array<{ addr_info: Array<{ local: string; prefixlen: number; family: string; tentative?: boolean }> }>;
  return j[0]?.addr_info ?? [];
}

/** A bridge in A, a veth into B, addresses and default routes on both families. */
function wiring(a: string, b: string, tag: string): ReturnType<typeof n.netns>[] {
  return [
    n.netns(a), n.bridge(`br${tag}`), n.veth(`vh${tag}`, 'eth0', b), n.master(`vh${tag}`, `br${tag}`), n.up(`vh${tag}`),
    n.addr(`br${tag}`, '10.88.0.1/24'), n.addr(`br${tag}`, 'fd00:88::1/64'),
    n.netns(b), n.up('eth0'), n.addr('eth0', '10.88.0.2/24'), n.addr('eth0', 'fd00:88::2/64'),
    n.route('default', '10.88.0.1'), n.route('default', 'fd00:88::1'),
  ];
}

test('bridge + veth into a second netns + addresses + default routes: ping across, v6 usable at once', async (t) => {
  const A = tempNetns(), B = tempNetns();
  try {
    const t0 = performance.now();
    await runNetSteps(wiring(A.path, B.path, '0'), 'wire');
    t.diagnostic(`runNetSteps bridge+veth+2 addr+2 route (v4+v6): ${(performance.now() - t0).toFixed(1)} ms`);
    const la = links(A.name), lb = links(B.name);
    const br = la.find((l) => l.ifname === 'br0')!;
    assert.equal(br.linkinfo?.info_kind, 'bridge');
    assert.ok(br.flags.includes('UP'), 'the bridge is up');
    assert.equal(la.find((l) => l.ifname === 'vh0')?.master, 'br0');
    assert.equal(lb.find((l) => l.ifname === 'eth0')?.linkinfo?.info_kind, 'veth', 'the peer was created in B');
    assert.ok(!la.some((l) => l.ifname === 'eth0'), 'and not in A');
    assert.deepEqual(addrs(B.name, 'eth0').filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`), ['10.88.0.2/24']);
    const v6 = addrs(B.name, 'eth0').find((x) => x.local === 'fd00:88::2')!;
    assert.ok(v6 && !v6.tentative, 'the v6 address skips DAD: usable at once');
    assert.match(inNs(B.name, ['ip', 'route', 'show', 'default']).out, /default via 10\.88\.0\.1 dev eth0/);
    assert.match(inNs(B.name, ['ip', '-6', 'route', 'show', 'default']).out, /default via fd00:88::1 dev eth0/);
    const p4 = inNs(B.name, ['busybox', 'ping', '-c', '1', '-W', '2', '10.88.0.1']);
    assert.equal(p4.status, 0, p4.out);
    const p6 = inNs(B.name, ['busybox', 'ping', '-c', '1', '-W', '2', 'fd00:88::1']);
    assert.equal(p6.status, 0, `v6 right after the wiring: ${p6.out}`);
    // an existing bridge is fine (and is brought up again)
    spawnSync('ip', ['-n', A.name, 'link', 'set', 'br0', 'down']);
    await runNetSteps([n.netns(A.path), n.bridge('br0')], 'again');
    assert.ok(links(A.name).find((l) => l.ifname === 'br0')!.flags.includes('UP'));
  } finally { A.remove(); B.remove(); }
});

test('link settings: mtu, mac, rename, hairpin, down, detach, sysctl in the netns', async () => {
  const A = tempNetns();
  try {
    await runNetSteps([
      n.netns(A.path), n.bridge('brx', { mtu: 1400, mac: '02:42:ac:11:00:01' }), n.veth('va', 'vb', '-', 1400),
      n.master('va', 'brx'), n.hairpin('va', true), n.mtu('vb', 1300), n.mac('vb', '02:00:00:00:00:0b'), n.rename('vb', 'vc'),
      n.up('vc'), n.down('vc'), n.sysctl('net.ipv4.conf.all.forwarding', 1), n.sysctl('net/ipv6/conf/brx/disable_ipv6', '1'),
    ], 'settings');
    const l = links(A.name);
    const brx = l.find((x) => x.ifname === 'brx')!;
    assert.equal(brx.mtu, 1400);
    assert.equal(brx.address, '02:42:ac:11:00:01');
    const vc = l.find((x) => x.ifname === 'vc')!;
    assert.equal(vc.mtu, 1300);
    assert.equal(vc.address, '02:00:00:00:00:0b');
    assert.ok(!vc.flags.includes('UP'));
    assert.match(inNs(A.name, ['bridge', '-d', 'link', 'show', 'dev', 'va']).out, /hairpin on/);
    assert.equal(inNs(A.name, ['cat', '/proc/sys/net/ipv4/conf/all/forwarding']).out.trim(), '1');
    assert.equal(inNs(A.name, ['cat', '/proc/sys/net/ipv6/conf/brx/disable_ipv6']).out.trim(), '1');
    await runNetSteps([n.netns(A.path), n.master('va', null)], 'detach');
    assert.equal(links(A.name).find((x) => x.ifname === 'va')!.master, undefined);
    // the helper ended in its own netns: the machine's forwarding sysctl was not the one written
    assert.ok(!links(A.name).some((x) => x.ifname === 'eth0'));
  } finally { A.remove(); }
});

test('macvlan on a veth parent, placed in another netns; ipvlan gives the kernel\'s EOPNOTSUPP', async () => {
  const A = tempNetns(), B = tempNetns();
  try {
    await runNetSteps([n.netns(A.path), n.veth('par0', 'par1'), n.up('par0'), n.macvlan('mv0', 'par0', 'bridge', B.path, 1400)], 'macvlan');
    const mv = links(B.name).find((x) => x.ifname === 'mv0');
    assert.equal(mv?.linkinfo?.info_kind, 'macvlan');
    assert.equal(mv?.linkinfo?.info_data?.mode, 'bridge');
    assert.equal(mv?.mtu, 1400);
    const ipv = await runNetSteps([n.netns(A.path), n.ipvlan('ipv0', 'par0', 'l2', B.path)], 'create network n1').then(() => null, (e: unknown) => e);
    if (ipv === null) return; // a kernel with CONFIG_IPVLAN: nothing to check
    assert.ok(ipv instanceof BerthError);
    assert.equal(ipv.errno, 95, ipv.message);
    assert.equal(ipv.step, 'link_ipvlan');
    assert.match(ipv.message, /^create network n1: create ipvlan link ipv0 on par0 in \S+: .*ipvlan: the kernel has no ipvlan support \(CONFIG_IPVLAN\)/);
  } finally { A.remove(); B.remove(); }
});

test('link_del is idempotent and deletes both ends of a veth', async () => {
  const A = tempNetns(), B = tempNetns();
  try {
    await runNetSteps([n.netns(A.path), n.veth('vd0', 'vd1', B.path)], 'make');
    assert.ok(links(B.name).some((x) => x.ifname === 'vd1'));
    await runNetSteps([n.netns(A.path), n.del('vd0'), n.del('vd0'), n.del('never-was')], 'cleanup');
    assert.ok(!links(A.name).some((x) => x.ifname === 'vd0'));
    assert.ok(!links(B.name).some((x) => x.ifname === 'vd1'));
  } finally { A.remove(); B.remove(); }
});

test('an error names op and step (step, op, path, errno) and undoes the links made before it', async () => {
  const A = tempNetns(), B = tempNetns();
  try {
    await runNetSteps([n.netns(B.path), n.veth('eth0', 'peer0'), n.up('eth0'), n.addr('eth0', '10.1.0.2/24')], 'setup');
    const e = await runNetSteps([n.netns(A.path), n.veth('vhx', 'vpx', B.path), n.bridge('brq'),
      n.netns(B.path), n.addr('eth0', '10.1.0.2/24')], 'connect c1 to net1').then(() => null, (x: unknown) => x);
    assert.ok(e instanceof BerthError, 'the duplicate address fails');
    assert.equal(e.errno, 17);
    assert.equal(e.step, 'addr_add');
    assert.equal(e.path, 'eth0');
    assert.match(e.message, /^connect c1 to net1: add address 10\.1\.0\.2\/24 to eth0: File exists/);
    const la = links(A.name);
    assert.ok(!la.some((x) => x.ifname === 'vhx' || x.ifname === 'brq'), `nothing made by the failed list stays: ${la.map((x) => x.ifname)}`);
    assert.ok(!links(B.name).some((x) => x.ifname === 'vpx'));
    // unknown link, a path that is no netns, a bad plan argument
    const e2 = await runNetSteps([n.netns(A.path), n.up('nope0')], 'up').catch((x: BerthError) => x);
    assert.equal((e2 as BerthError).errno, 19);
    assert.match((e2 as BerthError).message, /^up: bring up nope0: No such device/);
    const e3 = await runNetSteps([n.netns('/run/netns/berth-t-none')], 'enter').catch((x: BerthError) => x);
    assert.equal((e3 as BerthError).errno, 2);
    const e4 = await runNetSteps([n.netns(A.path), n.addr('lo', '10.0.0.300/8')], 'bad').catch((x: BerthError) => x);
    assert.match((e4 as BerthError).message, /bad plan/);
    // a step that is not a network step is refused by `berth-helper net`
    const e5 = await runNetSteps([{ op: 'exec', args: ['/bin/true', 0, 0], desc: 'exec' }], 'exec').catch((x: BerthError) => x);
    assert.match((e5 as BerthError).message, /not allowed in this list/);
  } finally { A.remove(); B.remove(); }
});
