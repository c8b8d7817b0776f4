/**
 * User-defined networks through the CLI, in a throwaway network namespace: create/ls/inspect/rm
 * with Docker's errors, names and aliases through the embedded DNS (and the rest forwarded to an
 * upstream in another namespace, or on the host's loopback), isolation between networks,
 * --internal, connect/disconnect on a running container, address reuse, IPv6, macvlan.
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cannotRunNet, FAKE_DNS_JS, withNetCli, type NetCli } from './engine-util.js';

const skip = cannotRunNet();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sleeper(c: NetCli, args: string[]): Promise<string> {
  return c.ok(['run', '-d', ...args, 'busybox', 'sleep', '600']);
}

/** Run a shell line in a container until it exits 0 (services take a moment). */
async function eventually(c: NetCli, id: string, line: string, tries = 20): Promise<string> {
  let r;
  for (let i = 0; i < tries; i++) {
    r = await c.berth(['exec', id, 'sh', '-c', line]);
    if (r.code === 0) return r.out.trim();
    await sleep(150);
  }
  throw new Error(`${line}: exit ${r?.code}: ${r?.out}${r?.err}`);
}

function startFakeDns(c: NetCli, ns: string, addr: string): void {
  const js = join(c.root, 'fake-dns.cjs');
  writeFileSync(js, FAKE_DNS_JS);
  c.bg([process.execPath, js, addr, 'upstream.example.test', '10.9.8.7'], ns);
}

test('network create/ls/inspect/rm: the bridge, the records, Docker\'s errors', { skip }, async () => {
  await withNetCli(async (c) => {
    const id = await c.ok(['network', 'create', '--subnet', '10.77.0.0/24', '--label', 'k=v', 'app']);
    assert.match(id, /^[0-9a-f]{64}$/);
    const ls = await c.ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
    assert.deepEqual(ls.split('\n').sort(), ['app bridge local', 'bridge bridge local', 'host host local', 'none null local']);
    const net = JSON.parse(await c.ok(['network', 'inspect', 'app']))[0];
    assert.equal(net.Name, 'app');
    assert.deepEqual(net.IPAM.Config, [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }]);
    assert.deepEqual(net.Labels, { k: 'v' });
    const br = `br-${id.slice(0, 12)}`;
    assert.match(c.sh(['ip', '-br', 'addr', 'show', br]), /10\.77\.0\.1\/24/);
    const bad: [string[], RegExp][] = [
      [['network', 'create', 'app'], /network with name app already exists/],
      [['network', 'create', '--subnet', '10.77.0.0/25', 'b2'], /Pool overlaps/],
      [['network', 'create', '--subnet', '10.78.0.0/24', '--gateway', '10.79.0.1', 'b3'], /no matching subnet for gateway 10\.79\.0\.1/],
      [['network', 'create', '-d', 'foo', 'b4'], /plugin "foo" not found/],
      [['network', 'create', '-d', 'ipvlan', '-o', 'parent=uplink', 'b5'], /ipvlan/],
      [['network', 'rm', 'bridge'], /pre-defined network and cannot be removed/],
      [['network', 'rm', 'nope'], /network nope not found/],
    ];
    for (const [args, msg] of bad) {
      const r = await c.berth(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
    assert.equal((await c.ok(['network', 'ls', '-q'])).split('\n').length, 4, 'nothing half-created');
    const ctr = await sleeper(c, ['--network', 'app']);
    const r = await c.berth(['network', 'rm', 'app']);
    assert.equal(r.code, 1);
    assert.match(r.err, /has active endpoints/);
    await c.ok(['rm', '-f', ctr]);
    await c.ok(['network', 'rm', 'app']);
    assert.doesNotMatch(c.sh(['ip', '-br', 'link']), new RegExp(br));
    assert.doesNotMatch(c.sh(['nft', 'list', 'table', 'inet', 'berth'], { allowFail: true }), /10\.77\.0\./);
  });
});

test('embedded DNS: names, aliases, short ids; the rest forwarded upstream (also a loopback one)', { skip }, async () => {
  await withNetCli(async (c) => {
    startFakeDns(c, c.outside, c.outsideIp);
    await c.ok(['network', 'create', 'app']);
    const web = await sleeper(c, ['--network', 'app', '--name', 'web', '--network-alias', 'www']);
    const webIp = await c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.app.IPAddress}}', web]);
    const cl = await sleeper(c, ['--network', 'app', '--name', 'client']);
    assert.match(await c.ok(['exec', cl, 'cat', '/etc/resolv.conf']), /^nameserver 127\.0\.0\.11$/m);
    for (const name of ['web', 'www', web.slice(0, 12), 'WEB']) {
      const out = await eventually(c, cl, `nslookup ${name} 127.0.0.11`);
      assert.match(out, new RegExp(`Address:? (1: )?${webIp.replace(/\./g, '\\.')}`), `${name}: ${out}`);
    }
    assert.match(await eventually(c, cl, `nslookup ${webIp} 127.0.0.11`), /name = web\.app/, 'PTR: name.network');
    assert.match(await eventually(c, cl, 'nslookup web.app 127.0.0.11'), new RegExp(webIp.replace(/\./g, '\\.')));
    assert.match(await eventually(c, cl, 'nslookup upstream.example.test'), /10\.9\.8\.7/);
    const names = JSON.parse(await c.ok(['inspect', '-f', '{{json .NetworkSettings.Networks.app.DNSNames}}', web]));
    assert.deepEqual(names, ['web', 'www', web.slice(0, 12)]);
    // a removed container's name goes away
    await c.ok(['rm', '-f', web]);
    const gone = await c.berth(['exec', cl, 'nslookup', 'web', '127.0.0.11']);
    assert.notEqual(gone.code, 0);
    // upstream on the host's loopback (systemd-resolved's 127.0.0.53): asked from the host's namespace
    startFakeDns(c, c.ns, '127.0.0.53');
    writeFileSync(c.resolvConf, 'nameserver 127.0.0.53\n');
    await sleep(200);
    const cl2 = await sleeper(c, ['--network', 'app']);
    assert.match(await eventually(c, cl2, 'nslookup upstream.example.test'), /10\.9\.8\.7/);
  });
});

test('isolation between networks, --internal, connect and disconnect on a running container', { skip }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['network', 'create', 'n1']);
    await c.ok(['network', 'create', 'n2']);
    await c.ok(['network', 'create', '--internal', 'sealed']);
    const a = await sleeper(c, ['--network', 'n1', '--name', 'aa']);
    const b = await sleeper(c, ['--network', 'n2', '--name', 'bb']);
    const ipA = await c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.n1.IPAddress}}', a]);
    const ping = (id: string, ip: string) => c.berth(['exec', id, 'ping', '-c', '1', '-W', '1', ip]);
    assert.notEqual((await ping(b, ipA)).code, 0, 'n2 cannot reach n1');
    const s = await sleeper(c, ['--network', 'sealed']);
    assert.notEqual((await ping(s, c.outsideIp)).code, 0, 'an internal network has no way out');
    // hot connect: b gets eth1 on n1, reaches a, and resolves it by name
    await c.ok(['network', 'connect', '--alias', 'bee', 'n1', b]);
    assert.match(await c.ok(['exec', b, 'ip', '-o', '-4', 'addr', 'show', 'eth1']), /10\.|172\./);
    assert.equal((await ping(b, ipA)).code, 0, 'connected: b reaches a');
    assert.match(await eventually(c, a, 'nslookup bee 127.0.0.11'), /Address/);
    await c.ok(['network', 'disconnect', 'n1', b]);
    const r = await c.berth(['exec', b, 'ip', 'link', 'show', 'eth1']);
    assert.notEqual(r.code, 0, 'eth1 is gone');
    assert.notEqual((await ping(b, ipA)).code, 0);
    const again = await c.berth(['network', 'disconnect', 'n1', b]);
    assert.equal(again.code, 1);
    assert.match(again.err, /is not connected to network n1/);
  });
});

test('addresses: --ip, sequential allocation, reuse after rm, a killed container leaves nothing', { skip }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['network', 'create', '--subnet', '10.88.0.0/24', '--ip-range', '10.88.0.128/25', 'r']);
    const ip = (id: string) => c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.r.IPAddress}}', id]);
    const a = await sleeper(c, ['--network', 'r']);
    const b = await sleeper(c, ['--network', 'r']);
    assert.equal(await ip(a), '10.88.0.128');
    assert.equal(await ip(b), '10.88.0.129');
    const fixed = await sleeper(c, ['--network', 'r', '--ip', '10.88.0.50']);
    assert.equal(await ip(fixed), '10.88.0.50');
    const dup = await c.berth(['run', '-d', '--network', 'r', '--ip', '10.88.0.50', 'busybox', 'sleep', '5']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.err, /Address already in use/);
    await c.ok(['rm', '-f', a]);
    const d = await sleeper(c, ['--network', 'r']);
    assert.equal(await ip(d), '10.88.0.128', 'the freed address is handed out again');
    // SIGKILL the container's process: once it is cleaned up, no veth, no lease, no DNS entry
    const pid = Number(await c.ok(['inspect', '-f', '{{.State.Pid}}', d]));
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && (await c.ok(['inspect', '-f', '{{.State.Status}}', d])) !== 'exited'; i++) await sleep(100);
    assert.equal(await c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.r.IPAddress}}', d]), '');
    const e2 = await sleeper(c, ['--network', 'r']);
    assert.equal(await ip(e2), '10.88.0.128');
    const links = c.sh(['ip', '-br', 'link']);
    assert.doesNotMatch(links, new RegExp(`vb${d.slice(0, 10)}`));
  });
});

test('IPv6: a dual-stack network, container to container over v6, the gateway', { skip }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['network', 'create', '--ipv6', '--subnet', 'fd00:77::/64', 'six']);
    const a = await sleeper(c, ['--network', 'six', '--name', 'a6']);
    const b = await sleeper(c, ['--network', 'six']);
    const v6 = await c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.six.GlobalIPv6Address}}', a]);
    assert.equal(v6, 'fd00:77::2');
    assert.equal(await c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.six.IPv6Gateway}}', a]), 'fd00:77::1');
    assert.match(await c.ok(['exec', b, 'ping', '-6', '-c', '1', '-W', '2', v6]), /1 packets received/);
    assert.match(await eventually(c, b, 'nslookup -type=AAAA a6 127.0.0.11 || nslookup a6 127.0.0.11'), /fd00:77::2/);
  });
});

test('macvlan on a parent link: the container sits on the parent\'s segment', { skip }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.231.0.0/24', '--ip-range', '10.231.0.64/26', '-o', 'parent=uplink', 'mv']);
    const a = await sleeper(c, ['--network', 'mv']);
    assert.equal(await c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.mv.IPAddress}}', a]), '10.231.0.64');
    assert.match(await c.ok(['exec', a, 'ping', '-c', '1', '-W', '2', c.outsideIp]), /1 packets received/);
  });
});
