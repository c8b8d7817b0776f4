/** `berth serve`: networks (create/ls/inspect/connect/disconnect/rm/prune), in a throwaway network namespace. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cannotServeNet, withNsServer } from './netns-serve.js';

const skip = cannotServeNet();
const q = (f: unknown) => encodeURIComponent(JSON.stringify(f));

test('docker network create/ls/inspect/connect/disconnect/rm/prune through berth serve', { skip, timeout: 180_000 }, async () => {
  await withNsServer(async (s) => {
    const ok = async (args: string[]) => {
      const r = await s.docker(args);
      assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.err}`);
      return r.out.trim();
    };
    const id1 = await ok(['network', 'create', '--subnet', '10.88.0.0/24', '--gateway', '10.88.0.254', '--ip-range', '10.88.0.128/25', '--label', 'a=b', 'net1']);
    assert.match(id1, /^[0-9a-f]{64}$/);
    const dup = await s.docker(['network', 'create', 'net1']);
    assert.equal(dup.code, 1);
    assert.match(dup.err, /network with name net1 already exists/);

    // IPAM with aux addresses, Internal, no IPAM options sent: Options null (docker-py checks it)
    const made = await s.http('POST', '/networks/create', {
      Name: 'net2', Driver: 'bridge', Internal: true, CheckDuplicate: true, Labels: { l: '1' },
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.99.0.0/24', Gateway: '10.99.0.1', IPRange: '10.99.0.0/25', AuxiliaryAddresses: { aux: '10.99.0.5' } }] },
    });
    assert.equal(made.status, 201, made.body);
    const id2 = JSON.parse(made.body).Id as string;
    assert.deepEqual(JSON.parse(made.body), { Id: id2, Warning: '' });
    const n2 = JSON.parse((await s.http('GET', '/networks/net2')).body);
    assert.equal(n2.Id, id2);
    assert.equal(n2.Internal, true);
    assert.equal(n2.IPAM.Options, null);
    assert.deepEqual(n2.IPAM.Config, [{ Subnet: '10.99.0.0/24', Gateway: '10.99.0.1', IPRange: '10.99.0.0/25', AuxiliaryAddresses: { aux: '10.99.0.5' } }]);
    assert.deepEqual(n2.Labels, { l: '1' });
    assert.equal((await s.http('POST', '/networks/create', { Name: 'h2', Driver: 'host' })).status, 403);
    // docker-py: a name with a space, inspected and removed by that name
    assert.equal((await s.http('POST', '/networks/create', { Name: 'test 01' })).status, 201);
    assert.equal(JSON.parse((await s.http('GET', '/networks/test%2001')).body).Name, 'test 01');
    assert.equal((await s.http('DELETE', '/networks/test%2001')).status, 204);

    assert.equal(await ok(['network', 'ls', '--filter', 'label=a=b', '--format', '{{.Name}}']), 'net1');
    assert.deepEqual((await ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}}'])).split('\n'), ['host host', 'net1 bridge', 'net2 bridge', 'none null']);
    const custom = JSON.parse((await s.http('GET', `/networks?filters=${q({ type: { custom: true } })}`)).body) as { Name: string }[];
    assert.deepEqual(custom.map((n) => n.Name).sort(), ['net1', 'net2']);
    assert.equal((await s.http('GET', `/networks?filters=${q({ bogus: ['x'] })}`)).status, 400);
    assert.equal(await ok(['network', 'inspect', '--format', '{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}} {{.Labels.a}} {{.Scope}}', 'net1']),
      '10.88.0.0/24 10.88.0.254 b local');

    // a container on net1 (HostConfig.NetworkMode); the network's Containers map lists it
    const web = await ok(['run', '-d', '--name', 'web', '--network', 'net1', 'busybox', 'sleep', '120']);
    const nj = JSON.parse((await s.http('GET', '/networks/net1')).body);
    assert.equal(nj.Containers[web].Name, 'web');
    const ip1 = nj.Containers[web].IPv4Address as string;
    assert.match(ip1, /^10\.88\.0\.(\d+)\/24$/);
    assert.ok(Number(/\.(\d+)\//.exec(ip1)![1]) >= 128, `${ip1} is in the ip-range`);

    // create's NetworkingConfig: an alias and a fixed address on the network
    await ok(['run', '-d', '--name', 'aliased', '--network', 'net1', '--network-alias', 'foo', '--ip', '10.88.0.200', 'busybox', 'sleep', '120']);
    const al = JSON.parse(await ok(['inspect', '--format', '{{json .NetworkSettings.Networks.net1}}', 'aliased']));
    assert.equal(al.IPAddress, '10.88.0.200');
    assert.ok(al.Aliases?.includes('foo'), JSON.stringify(al));
    const foo = await s.docker(['exec', 'web', 'ping', '-c', '1', '-W', '2', 'foo']);
    assert.equal(foo.code, 0, foo.err + foo.out);
    assert.match(foo.out, /from 10\.88\.0\.200/);
    await ok(['rm', '-f', 'aliased']);

    // hot connect with an alias and a fixed address; the container sees its new interface
    await ok(['network', 'connect', '--alias', 'extra', '--ip', '10.99.0.9', 'net2', 'web']);
    const eps = JSON.parse(await ok(['inspect', '--format', '{{json .NetworkSettings.Networks}}', 'web']));
    assert.equal(eps['net2'].IPAddress, '10.99.0.9');
    assert.deepEqual(eps['net2'].IPAMConfig, { IPv4Address: '10.99.0.9' });
    assert.ok(eps['net2'].Aliases.includes('extra'), JSON.stringify(eps['net2']));
    assert.match(await ok(['exec', 'web', 'ip', '-4', 'addr']), /inet 10\.99\.0\.9\/24/);
    // another container on `net2` reaches it by its alias
    const ping = await s.docker(['run', '--rm', '--network', 'net2', 'busybox', 'ping', '-c', '1', '-W', '2', 'extra']);
    assert.equal(ping.code, 0, ping.err + ping.out);
    assert.match(ping.out, /1 packets received/);
    const again = await s.http('POST', '/networks/net1/connect', { Container: 'web' });
    assert.equal(again.status, 403);
    assert.match(JSON.parse(again.body).message, /already exists in network net1/);
    assert.equal((await s.http('POST', '/networks/net1/connect', { Container: 'nosuch' })).status, 404);

    await ok(['network', 'disconnect', 'net2', 'web']);
    assert.deepEqual(Object.keys(JSON.parse(await ok(['inspect', '--format', '{{json .NetworkSettings.Networks}}', 'web']))), ['net1']);
    assert.doesNotMatch(await ok(['exec', 'web', 'ip', '-4', 'addr']), /10\.99\.0\.9/);
    const notOn = await s.http('POST', `/networks/${id2}/disconnect`, { Container: 'web' });
    assert.equal(notOn.status, 403);
    assert.equal((await s.http('POST', `/networks/${id2}/disconnect`, { Container: 'web', Force: true })).status, 200);

    // a created (not running) container: connect and disconnect are recorded, used at start
    await ok(['create', '--name', 'later', '--network', 'net1', 'busybox', 'sleep', '120']);
    assert.equal((await s.http('POST', '/networks/net1/disconnect', { Container: 'later' })).status, 200);
    const c = await s.http('POST', `/networks/${id2}/connect`, { Container: 'later', EndpointConfig: { Aliases: ['lat'], IPAMConfig: { IPv4Address: '10.99.0.20' } } });
    assert.equal(c.status, 200, c.body);
    await ok(['start', 'later']);
    assert.equal(await ok(['inspect', '--format', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{$v.Aliases}}{{end}}', 'later']), 'net2=10.99.0.20 [lat]');

    // removal: in use and predefined are refused (403), a missing one is 404
    const inUse = await s.docker(['network', 'rm', 'net1']);
    assert.equal(inUse.code, 1);
    assert.match(inUse.err, /has active endpoints/);
    assert.equal((await s.http('DELETE', '/networks/net1')).status, 403);
    const pre = await s.http('DELETE', '/networks/host');
    assert.equal(pre.status, 403);
    assert.match(JSON.parse(pre.body).message, /pre-defined network and cannot be removed/);
    const missing = await s.docker(['network', 'rm', 'nosuch']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /network nosuch not found/);
    assert.equal((await s.http('GET', '/networks/nosuch')).status, 404);

    await ok(['rm', '-f', 'web', 'later']);
    await ok(['network', 'create', 'net3']);
    await ok(['network', 'rm', 'net3']);
    assert.equal((await s.http('GET', '/networks/net3')).status, 404);
    const pruned = await ok(['network', 'prune', '-f']);
    assert.match(pruned, /Deleted Networks:\n(net1\nnet2|net2\nnet1)$/);
    assert.deepEqual((await ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n'), ['host', 'none']);
    assert.doesNotMatch(s.sh(['ip', 'link']), /br-/);
  });
});
