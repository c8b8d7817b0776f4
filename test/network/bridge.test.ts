/**
 * The default bridge and published ports, end to end through the CLI, in a throwaway network
 * namespace (test/network/engine-util.ts): addresses, container to container, NAT out,
 * published ports from another host, from the host on its address and on 127.0.0.1, from another
 * container and hairpin, ranges and -P, a busy port refused, and nothing left after rm.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BUSYBOX, cannotRunNet, withNetCli, type NetCli } from './engine-util.js';

const skip = cannotRunNet();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET http://target/ with busybox wget from a namespace (or a container), retried while it starts. */
async function fetchFrom(c: NetCli, where: { ns?: string; container?: string }, url: string, tries = 30): Promise<string> {
  let last = '';
  for (let i = 0; i < tries; i++) {
    if (where.container) {
      const r = await c.berth(['exec', where.container, 'timeout', '3', 'wget', '-q', '-O', '-', url]);
      if (r.code === 0) return r.out;
      last = r.err;
    } else {
      const out = c.sh(['curl', '-s', '-m', '2', url], { in: where.ns, allowFail: true });
      if (out.includes('berth-ok')) return out;
      last = out;
    }
    await sleep(100);
  }
  throw new Error(`GET ${url}: ${last}`);
}

/** A detached web server answering `berth-ok` on port 80. */
async function web(c: NetCli, args: string[]): Promise<string> {
  return c.ok(['run', '-d', ...args, 'busybox', 'sh', '-c', 'mkdir -p /w && echo berth-ok > /w/index.html && exec httpd -f -p 80 -h /w']);
}

function nftRules(c: NetCli): string {
  return c.sh(['nft', 'list', 'table', 'inet', 'berth'], { allowFail: true });
}

test('default bridge: an address on berth0, container to container, out through NAT, inspect', { skip }, async () => {
  await withNetCli(async (c) => {
    const a = await web(c, ['--name', 'web-a']);
    const ip = await c.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', a]);
    assert.match(ip, /^172\.17\.0\.\d+$/);
    const gw = await c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.bridge.Gateway}}', a]);
    assert.equal(gw, '172.17.0.1');
    assert.match(c.sh(['ip', '-br', 'addr', 'show', 'berth0']), /172\.17\.0\.1\/16/);
    assert.equal(await fetchFrom(c, {}, `http://${ip}/`), 'berth-ok\n');
    const out = await c.ok(['run', '--rm', 'busybox', 'wget', '-q', '-O', '-', `http://${ip}/`]);
    assert.equal(out, 'berth-ok');
    // out through NAT: the outside host has no route back to 172.17.0.0/16, so only a
    // masqueraded connection gets an answer
    c.bg([BUSYBOX, 'nc', '-ll', '-p', '7000', '-e', 'echo', 'from-outside'], c.outside);
    const seen = await c.ok(['run', '--rm', 'busybox', 'sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do nc -w 2 ${c.outsideIp} 7000 </dev/null && exit 0; sleep 0.2; done; exit 1`]);
    assert.equal(seen, 'from-outside');
    const mac = await c.ok(['inspect', '-f', '{{.NetworkSettings.MacAddress}}', a]);
    assert.match(mac, /^02:42:ac:11:00:/);
  });
});

test('published ports: from another host, the host itself (its address and 127.0.0.1), another container, hairpin', { skip }, async () => {
  await withNetCli(async (c) => {
    const a = await web(c, ['-p', '8080:80', '--name', 'pub']);
    assert.equal(await fetchFrom(c, { ns: c.outside }, `http://${c.hostIp}:8080/`), 'berth-ok\n');
    assert.equal(await fetchFrom(c, {}, `http://${c.hostIp}:8080/`), 'berth-ok\n');
    assert.equal(await fetchFrom(c, {}, 'http://127.0.0.1:8080/'), 'berth-ok\n');
    const other = await c.ok(['run', '-d', 'busybox', 'sleep', '60']);
    assert.equal(await fetchFrom(c, { container: other }, `http://${c.hostIp}:8080/`), 'berth-ok\n');
    assert.equal(await fetchFrom(c, { container: a }, `http://${c.hostIp}:8080/`), 'berth-ok\n', 'hairpin');
    assert.equal(await c.ok(['port', a]), '80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080'.replace(/\n$/, ''));
    assert.equal(await c.ok(['port', a, '80']), '0.0.0.0:8080\n[::]:8080');
    const ps = await c.ok(['ps', '--filter', 'name=pub', '--format', '{{.Ports}}']);
    assert.equal(ps, '0.0.0.0:8080->80/tcp, :::8080->80/tcp');
    const ports = JSON.parse(await c.ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', a]));
    assert.deepEqual(ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }] });
    await c.ok(['rm', '-f', a]);
    assert.doesNotMatch(nftRules(c), /8080/, 'the port rules go with the container');
    const r = c.sh(['curl', '-s', '-m', '1', `http://${c.hostIp}:8080/`], { in: c.outside, allowFail: true });
    assert.doesNotMatch(r, /berth-ok/);
  });
});

test('published ports: a host port range, -P with the exposed ports, udp, a specific host address', { skip }, async () => {
  await withNetCli(async (c) => {
    const a = await web(c, ['-p', '127.0.0.1:9000-9005:80', '--expose', '81', '-P', '-p', '5353:53/udp']);
    const ports = JSON.parse(await c.ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', a]));
    assert.deepEqual(ports['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: '9000' }]);
    assert.equal(ports['53/udp'][0].HostPort, '5353');
    const p81 = Number(ports['81/tcp'][0].HostPort);
    assert.ok(p81 > 1024, `81/tcp got a free host port (${p81})`);
    assert.equal(await fetchFrom(c, {}, 'http://127.0.0.1:9000/'), 'berth-ok\n');
    // a second container in the same range gets the next port
    const b = await web(c, ['-p', '127.0.0.1:9000-9005:80']);
    assert.equal(await c.ok(['port', b, '80/tcp']), '127.0.0.1:9001');
  });
});

test('a host port a host process listens on is refused at run, and nothing is left', { skip }, async () => {
  await withNetCli(async (c) => {
    c.bg([BUSYBOX, 'nc', '-ll', '-p', '9090', '-e', 'true'], c.ns);
    await sleep(300);
    const r = await c.berth(['run', '-d', '--name', 'busy', '-p', '9090:80', 'busybox', 'sleep', '60']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /9090/);
    assert.match(r.err, /address already in use|already allocated/i);
    assert.doesNotMatch(nftRules(c), /9090/);
    assert.doesNotMatch(c.sh(['ip', '-br', 'link']), /^vb/m, 'no veth left');
    // the same port twice in berth: the second is refused by the engine
    await c.ok(['run', '-d', '-p', '9191:80', 'busybox', 'sleep', '60']);
    const r2 = await c.berth(['run', '-d', '-p', '9191:80', 'busybox', 'sleep', '60']);
    assert.notEqual(r2.code, 0);
    assert.match(r2.err, /Bind for 0\.0\.0\.0:9191 failed: port is already allocated/);
  });
});

test('malformed -p and other bad flags: one line, exit 125, nothing created', { skip }, async () => {
  await withNetCli(async (c) => {
    for (const [arg, msg] of [['-p=abc', /invalid containerPort: abc/], ['-p=80/xyz', /invalid proto: xyz/], ['-p=1.2.3:80:80', /invalid IP address: 1\.2\.3/], ['-p=8000-8001:80-82', /invalid ranges specified/]] as const) {
      const r = await c.berth(['run', '--rm', arg, 'busybox', 'true']);
      assert.equal(r.code, 125, r.err);
      assert.match(r.err, msg);
    }
    const r = await c.berth(['run', '--rm', '--network', 'nope', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.err, /network nope not found/);
    assert.equal(await c.ok(['ps', '-aq']), '');
  });
});
