/**
 * Measures the firewall's calls, run INSIDE a throwaway network namespace (nsenter --net=… node
 * fw-speed.js), so nft runs as the engine will run it: no nsenter in between. Prints JSON:
 * medians in milliseconds. Not a test (no timing is asserted): firewall-speed.test.ts runs it.
 */
import { spawnSync } from 'node:child_process';
import { Firewall } from '../../src/network/firewall/index.js';
import type { FwNetwork, FwPort } from '../../src/network/firewall/index.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function time(n: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) { const t = performance.now(); await fn(i); xs.push(performance.now() - t); }
  return Math.round(median(xs) * 10) / 10;
}
const net = (i: number): FwNetwork => ({
  id: `n${i}`, bridge: `brs${i}`, subnets: [`10.${100 + (i >> 8)}.${i & 255}.0/24`, `fd99:${i.toString(16)}::/64`],
  gateways: [], internal: false, icc: true, masquerade: true,
});
const ports = (base: number, n: number, ip: string): FwPort[] => Array.from({ length: n }, (_, i) => ({
  netId: 'n0', proto: i % 2 ? 'udp' : 'tcp', hostIp: '', hostPort: base + i, containerIp: ip, containerPort: 1000 + i,
}));

const fw = new Firewall();
const r: Record<string, number> = {};
r.spawnNftVersion = await time(9, () => spawnSync('nft', ['--version']));
r.setup = await time(1, () => fw.setup());
r.addNetwork = await time(9, (i) => fw.addNetwork(net(i)));
r.addNetworkAgain = await time(9, () => fw.addNetwork(net(0)));
r.addPorts1 = await time(9, (i) => fw.addPorts(ports(20000 + i, 1, '10.100.0.2')));
r.addPorts100 = await time(5, (i) => fw.addPorts(ports(30000 + i * 100, 100, `10.100.0.${10 + i}`)));
r.removePorts100 = await time(5, (i) => fw.removePorts(ports(30000 + i * 100, 100, `10.100.0.${10 + i}`)));
r.removePorts1 = await time(9, (i) => fw.removePorts(ports(20000 + i, 1, '10.100.0.2')));
r.list = await time(5, () => fw.list());
const big = { networks: Array.from({ length: 50 }, (_, i) => net(i)), ports: ports(10000, 1000, '10.100.0.2') };
r.reload50nets1000ports = await time(3, () => fw.reload(big));
r.addPorts100With1000Installed = await time(5, (i) => fw.addPorts(ports(40000 + i * 100, 100, '10.100.0.3')));
r.removeNetwork = await time(9, (i) => fw.removeNetwork(net(i)));
console.log(JSON.stringify(r));
