/** docker-py (the Python `docker` package) against `berth serve`: networks, volumes, prune, df, events, swarm leave. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotServeNet, withNsServer } from './netns-serve.js';

const havePy = spawnSync('python3', ['-c', 'import docker'], { stdio: 'ignore' }).status === 0;
const skip = cannotServeNet() ?? (havePy ? undefined : 'no docker-py (python3 -c "import docker" fails)');

const SCRIPT = String.raw`
import time, docker
api = docker.from_env(version='auto').api
assert api.ping() is True
api.leave_swarm(force=True)  # docker-py accepts only 503/406 here (its network tests' tearDown)
t0 = int(time.time())

# a name with a space; IPAM echoed exactly, Options None when none were sent
pool = docker.types.IPAMPool(subnet='10.66.0.0/24', gateway='10.66.0.1', iprange='10.66.0.0/25', aux_addresses={'a': '10.66.0.7'})
n = api.create_network('test 01', ipam=docker.types.IPAMConfig(pool_configs=[pool]), labels={'x': 'y'})
i = api.inspect_network('test 01')
assert i['Id'] == n['Id'] and i['Labels'] == {'x': 'y'}, i
assert i['IPAM']['Options'] is None, i['IPAM']
assert i['IPAM']['Config'] == [{'Subnet': '10.66.0.0/24', 'Gateway': '10.66.0.1', 'IPRange': '10.66.0.0/25', 'AuxiliaryAddresses': {'a': '10.66.0.7'}}], i['IPAM']
assert [x['Name'] for x in api.networks(names=['test 01'])] == ['test 01']
for bad in (lambda: api.create_network('h', driver='host'), lambda: api.create_network('test 01')):
    try:
        bad(); raise SystemExit('expected an APIError')
    except docker.errors.APIError as e:
        assert e.response.status_code in (403, 409), e

# connect with aliases and an address, disconnect
api.create_network('n1'); api.create_network('n2', ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet='10.67.0.0/24')]))
ctr = api.create_container('busybox', 'sleep 60', host_config=api.create_host_config(network_mode='n1'))
api.start(ctr)
api.connect_container_to_network(ctr, 'n2', aliases=['al1'], ipv4_address='10.67.0.50')
ep = api.inspect_container(ctr)['NetworkSettings']['Networks']['n2']
assert ep['Aliases'] == ['al1'] and ep['IPAddress'] == '10.67.0.50', ep
assert ep['IPAMConfig']['IPv4Address'] == '10.67.0.50', ep
assert ctr['Id'] in api.inspect_network('n2')['Containers']
api.disconnect_container_from_network(ctr, 'n2')
assert list(api.inspect_container(ctr)['NetworkSettings']['Networks']) == ['n1']
api.remove_container(ctr, force=True)

# volumes: anonymous ones pruned, named ones kept
anon = api.create_volume()
assert anon['Labels'] == {'com.docker.volume.anonymous': ''}, anon
api.create_volume('pyv', labels={'a': 'b'})
assert [v['Name'] for v in api.volumes(filters={'label': 'a=b'})['Volumes']] == ['pyv']
assert api.prune_volumes() == {'VolumesDeleted': [anon['Name']], 'SpaceReclaimed': 0}
assert sorted(api.prune_networks()['NetworksDeleted']) == ['n1', 'n2', 'test 01']
df = api.df()
assert {'LayersSize', 'Images', 'Containers', 'Volumes'} <= set(df), df.keys()
assert [v['Name'] for v in df['Volumes']] == ['pyv'] and df['Volumes'][0]['UsageData']['RefCount'] == 0
api.remove_volume('pyv')

evs = [(e['Type'], e['Action']) for e in api.events(since=t0, until=int(time.time()) + 1, decode=True, filters={'type': 'network', 'network': 'n2', 'event': ['connect', 'disconnect']})]
assert evs == [('network', 'connect'), ('network', 'disconnect')], evs
print('OK')
`;

test('docker-py: networks, volumes, prune, df, events, leave_swarm through berth serve', { skip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dockerpy-'));
  writeFileSync(join(dir, 't.py'), SCRIPT);
  try {
    await withNsServer(async (s) => {
      const r = await s.client(['python3', join(dir, 't.py')], { timeoutMs: 120_000 });
      assert.equal(r.code, 0, `${r.err}\n${r.out}`);
      assert.equal(r.out, 'OK\n');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
