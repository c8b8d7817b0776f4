/**
 * The embedded DNS server of the container monitor (docs/PLAN.md, Monitor mode, `dns`): a busybox
 * container launched by the runtime from inside a throwaway "host" netns; its monitor answers
 * 127.0.0.11 inside the container from two network tables and forwards the rest, from the host
 * netns, to a fake upstream in a third netns (over a veth) or on the host netns' loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeDnsConfig, writeDnsTable, parseDnsConfig, parseDnsTable, upstreamsFromResolvConf, formatDnsConfig } from '../../src/network/dns/index.js';
import {
  alive, dnsQuery, FAKE_UPSTREAM, launchIn, memory, netns, nodeInNs, nsAddresses, nslookup, removeCtr, skip, sleep, sleeper,
  type Ctr, type Launch,
} from './dns-util.js';

describe('embedded DNS in the container monitor', { skip }, () => {
  let host: ReturnType<typeof netns>, up: ReturnType<typeof netns>;
  let ctr: Ctr, pids: Launch;
  let bare: Ctr | undefined, barePids: Launch | undefined;
  const stops: Array<() => Promise<void>> = [];
  let upstreamLog: () => string = () => '';
  let conf = '', t1 = '', t2 = '', t3 = '';
  let idle = { rss: 0, pss: 0 };

  before(async () => {
    host = netns('h');
    up = netns('u');
    // the upstream's netns hangs off the test "host" netns by a veth pair
    execFileSync('ip', ['-n', host.name, 'link', 'add', 'vh', 'type', 'veth', 'peer', 'name', 'vu', 'netns', up.name]);
    execFileSync('ip', ['-n', host.name, 'addr', 'add', '10.53.0.1/24', 'dev', 'vh']);
    execFileSync('ip', ['-n', host.name, 'link', 'set', 'vh', 'up']);
    execFileSync('ip', ['-n', up.name, 'addr', 'add', '10.53.0.2/24', 'dev', 'vu']);
    execFileSync('ip', ['-n', up.name, 'link', 'set', 'vu', 'up']);
    ctr = sleeper();
    const log = join(ctr.work, 'upstream.log');
    writeFileSync(log, '');
    const u = await nodeInNs(up.path, FAKE_UPSTREAM, ctr.work, ['10.53.0.2', '53', '300', log]);
    stops.push(u.stop);
    upstreamLog = () => readFileSync(log, 'utf8');
    // a resolver on the host netns' loopback, like systemd-resolved's 127.0.0.53
    const lo = await nodeInNs(host.path, FAKE_UPSTREAM, ctr.work, ['127.0.0.53', '53', '0', join(ctr.work, 'lo.log')]);
    stops.push(lo.stop);
    conf = join(ctr.work, 'dns.conf');
    t1 = join(ctr.work, 'net1.table');
    t2 = join(ctr.work, 'net2.table');
    t3 = join(ctr.work, 'net3.table');
    writeDnsTable(t1, [
      { name: 'web.net1', address: '10.89.0.2' }, { name: 'web', address: '10.89.0.2' }, { name: 'WebAlias.', address: '10.89.0.2' },
      { name: 'web.net1', address: 'fd00:89::2' }, { name: 'web', address: 'fd00:89::2' }, { name: 'other', address: '10.89.0.9' },
    ]);
    writeDnsTable(t2, [{ name: 'db.net2', address: '10.90.0.3' }, { name: 'db', address: '10.90.0.3' }, { name: 'web', address: '10.90.0.2' }]);
    writeDnsConfig(conf, { upstreams: ['10.53.0.2'], tables: [t1, t2] });
    pids = launchIn(host.path, ctr, { dnsConfig: conf });
    assert.ok(!('error' in pids && pids.error), JSON.stringify(pids));
    await sleep(100);
    idle = memory(pids.monitor);
  });

  after(async () => {
    if (ctr) await removeCtr(ctr, pids);
    if (bare) await removeCtr(bare, barePids);
    for (const s of stops) await s();
    up?.remove();
    host?.remove();
  });

  it('serves 127.0.0.11 inside the container, the monitor staying in the host netns', () => {
    assert.ok(alive(pids.monitor));
    // the monitor's netns is the test host netns (where its driver ran), not the container's
    assert.equal(readlinkSync(`/proc/${pids.monitor}/ns/net`), `net:[${statSync(host.path).ino}]`);
    assert.notEqual(readlinkSync(`/proc/${pids.monitor}/ns/net`), readlinkSync(`/proc/${pids.init}/ns/net`));
    const sockets = readdirSync(`/proc/${pids.monitor}/fd`).filter((f) => { try { return readlinkSync(`/proc/${pids.monitor}/fd/${f}`).startsWith('socket:'); } catch { return false; } });
    assert.ok(sockets.length >= 2, `the DNS sockets are kept: ${sockets.length}`);
  });

  it('nslookup in the container resolves names and aliases of both tables, A and AAAA', () => {
    let r = nslookup(pids.init, ['-type=A', 'db', '127.0.0.11']);
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(nsAddresses(r.out), ['10.90.0.3']);
    r = nslookup(pids.init, ['-type=A', 'webalias', '127.0.0.11']);
    assert.deepEqual(nsAddresses(r.out), ['10.89.0.2'], r.out);
    // a name on both networks: the addresses of both tables
    r = nslookup(pids.init, ['-type=A', 'WEB.', '127.0.0.11']);
    assert.deepEqual(nsAddresses(r.out), ['10.89.0.2', '10.90.0.2'], r.out);
    r = nslookup(pids.init, ['-type=AAAA', 'web', '127.0.0.11']);
    assert.deepEqual(nsAddresses(r.out), ['fd00:89::2'], r.out);
  });

  it('answers with TTL 600, and NOERROR without records for a type a known name lacks (not forwarded)', () => {
    const before = upstreamLog();
    const [a, aaaa, mx] = dnsQuery(ctr.work, pids.init, [{ name: 'db.net2', type: 'A' }, { name: 'db', type: 'AAAA' }, { name: 'web', type: 'MX' }]);
    assert.deepEqual(a!.answers, [{ type: 1, ttl: 600, data: '10.90.0.3' }]);
    assert.equal(a!.rcode, 0);
    assert.equal(a!.id, 1);
    assert.deepEqual([aaaa!.rcode, aaaa!.answers], [0, []]);
    assert.deepEqual([mx!.rcode, mx!.answers], [0, []]);
    assert.equal(upstreamLog(), before, 'nothing of ours reached the upstream');
  });

  it('answers PTR (in-addr.arpa and ip6.arpa) with the first name listed for the address', () => {
    const r = nslookup(pids.init, ['10.90.0.3', '127.0.0.11']);
    assert.match(r.out, /3\.0\.90\.10\.in-addr\.arpa\s+name = db\.net2/, r.out);
    const nib = '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.8.0.0.0.0.d.f.ip6.arpa';
    const [v4, v6] = dnsQuery(ctr.work, pids.init, [{ name: '2.0.89.10.in-addr.arpa', type: 'PTR' }, { name: nib, type: 'PTR' }]);
    assert.deepEqual(v4!.answers, [{ type: 12, ttl: 600, data: 'web.net1' }]);
    assert.deepEqual(v6!.answers, [{ type: 12, ttl: 600, data: 'web.net1' }]);
  });

  it('sees a changed table and a changed conf without a restart', () => {
    assert.equal(dnsQuery(ctr.work, pids.init, [{ name: 'cache', type: 'A' }])[0]!.rcode, 3, 'not known yet: the upstream says NXDOMAIN');
    writeDnsTable(t2, [{ name: 'db', address: '10.90.0.3' }, { name: 'cache', address: '10.90.0.4' }]);
    assert.deepEqual(dnsQuery(ctr.work, pids.init, [{ name: 'cache', type: 'A' }])[0]!.answers, [{ type: 1, ttl: 600, data: '10.90.0.4' }]);
    writeDnsTable(t3, [{ name: 'queue', address: '10.91.0.5' }]);
    writeDnsConfig(conf, { upstreams: ['10.53.0.2'], tables: [t1, t2, t3] }); // network connect
    assert.deepEqual(dnsQuery(ctr.work, pids.init, [{ name: 'queue', type: 'A' }])[0]!.answers, [{ type: 1, ttl: 600, data: '10.91.0.5' }]);
    writeDnsConfig(conf, { upstreams: ['10.53.0.2'], tables: [t1, t2] }); // and disconnect
    assert.equal(dnsQuery(ctr.work, pids.init, [{ name: 'queue', type: 'A' }])[0]!.rcode, 3);
  });

  it('forwards unknown names from the host netns, several in flight, ids kept straight', () => {
    const qs = Array.from({ length: 12 }, (_, i) => ({ name: `${i + 1}.upstream.test`, type: 'A' as const }));
    const res = dnsQuery(ctr.work, pids.init, qs);
    res.forEach((r, i) => {
      assert.equal(r.id, i + 1, JSON.stringify(r));
      assert.equal(r.rcode, 0);
      assert.deepEqual(r.answers, [{ type: 1, ttl: 42, data: `198.51.100.${i + 1}` }]);
    });
    // the upstream answered late and in reverse order, and saw the host side of the veth
    assert.match(upstreamLog(), /from 10\.53\.0\.1 12\.upstream\.test udp/);
    assert.doesNotMatch(upstreamLog(), /from 127\./);
    const r = nslookup(pids.init, ['-type=A', '7.upstream.test', '127.0.0.11']);
    assert.deepEqual(nsAddresses(r.out), ['198.51.100.7'], r.out);
  });

  it('tries the upstreams in order: a refused one, then the host netns loopback resolver', () => {
    writeDnsConfig(conf, { upstreams: ['127.0.0.54', '127.0.0.53'], tables: [t1, t2] });
    const t0 = Date.now();
    const [r] = dnsQuery(ctr.work, pids.init, [{ name: '9.upstream.test', type: 'A' }]);
    assert.deepEqual(r!.answers, [{ type: 1, ttl: 42, data: '198.51.100.9' }], JSON.stringify(r));
    assert.ok(Date.now() - t0 < 3000, 'a refused upstream is left at once');
  });

  it('answers SERVFAIL with no upstream or when all of them fail', () => {
    writeDnsConfig(conf, { upstreams: [], tables: [t1, t2] });
    const [none] = dnsQuery(ctr.work, pids.init, [{ name: '3.upstream.test', type: 'A' }]);
    assert.equal(none!.rcode, 2, JSON.stringify(none));
    writeDnsConfig(conf, { upstreams: ['127.0.0.54', '127.0.0.55:5353'], tables: [t1, t2] });
    const [failing, local] = dnsQuery(ctr.work, pids.init, [{ name: '3.upstream.test', type: 'A' }, { name: 'db', type: 'A' }]);
    assert.equal(failing!.rcode, 2, JSON.stringify(failing));
    assert.deepEqual(local!.answers, [{ type: 1, ttl: 600, data: '10.90.0.3' }], 'local names still answer');
    writeDnsConfig(conf, { upstreams: ['10.53.0.2'], tables: [t1, t2] });
  });

  it('answers over TCP, several queries on one connection, local and forwarded (over TCP: no 512-byte limit)', () => {
    const res = dnsQuery(ctr.work, pids.init, [
      { name: 'webalias', type: 'A', tcp: true }, { name: '5.upstream.test', type: 'A', tcp: true }, { name: 'web', type: 'AAAA', tcp: true },
      { name: 'big.upstream.test', type: 'A', tcp: true },
    ]);
    assert.deepEqual(res.slice(0, 3).map((r) => [r.id, r.rcode, r.answers]), [
      [100, 0, [{ type: 1, ttl: 600, data: '10.89.0.2' }]],
      [101, 0, [{ type: 1, ttl: 42, data: '198.51.100.5' }]],
      [102, 0, [{ type: 28, ttl: 600, data: 'fd00:0089:0000:0000:0000:0000:0000:0002' }]],
    ]);
    assert.equal(res[3]!.id, 103);
    assert.equal(res[3]!.tc, false);
    assert.equal(res[3]!.answers!.length, 60, 'the whole answer, forwarded over TCP');
    assert.match(upstreamLog(), /from 10\.53\.0\.1 big\.upstream\.test tcp/);
    // over UDP the upstream truncates: relayed as it is, the client retries over TCP
    const [udp] = dnsQuery(ctr.work, pids.init, [{ name: 'big.upstream.test', type: 'A' }]);
    assert.deepEqual([udp!.rcode, udp!.tc, udp!.answers], [0, true, []]);
  });

  it('keeps the monitor small: RSS and PSS with DNS, against one without', async (t) => {
    bare = sleeper();
    barePids = launchIn(host.path, bare, {});
    assert.ok(!('error' in barePids && barePids.error), JSON.stringify(barePids));
    await sleep(100);
    const busy = memory(pids.monitor), without = memory(barePids.monitor);
    t.diagnostic(`monitor VmRSS/Pss in kB: with DNS idle ${idle.rss}/${idle.pss}, after the queries above ${busy.rss}/${busy.pss}; without DNS ${without.rss}/${without.pss}`);
    assert.ok(idle.rss <= 1024, `idle monitor RSS with DNS ${idle.rss} kB`);
    assert.ok(busy.rss <= 1024, `monitor RSS with DNS after queries ${busy.rss} kB`);
  });
});

describe('embedded DNS files (src/network/dns)', () => {
  it('formats and parses the conf and tables as the monitor reads them', () => {
    const text = formatDnsConfig({ upstreams: ['127.0.0.53', '10.0.0.1:5353', '[fd00::1]:53', 'fd00::2'], tables: ['/run/a.table'] });
    assert.equal(text, 'upstream 127.0.0.53\nupstream 10.0.0.1:5353\nupstream fd00::1\nupstream fd00::2\ntable /run/a.table\n');
    assert.deepEqual(parseDnsConfig(text + 'upstream nonsense\nfuture key\n'), { upstreams: ['127.0.0.53', '10.0.0.1:5353', 'fd00::1', 'fd00::2'], tables: ['/run/a.table'] });
    assert.throws(() => formatDnsConfig({ upstreams: ['example.com'], tables: [] }), /upstream "example.com" is not IP\[:PORT\]/);
    assert.throws(() => formatDnsConfig({ upstreams: [], tables: ['rel/path'] }), /must be absolute/);
    assert.deepEqual(parseDnsTable('Web. 10.0.0.2\n# comment\nbad line\nweb fd00::2\n'), [{ name: 'web', address: '10.0.0.2' }, { name: 'web', address: 'fd00::2' }]);
    assert.deepEqual(upstreamsFromResolvConf('# x\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver 1.1.1.1\nsearch lan\n'), ['127.0.0.53', '1.1.1.1']);
  });
});
