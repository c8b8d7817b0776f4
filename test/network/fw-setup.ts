/** The standard firewall lab: two networks (br0 with IPv6, br1), three containers, servers, ports. */
import { Firewall } from '../../src/network/firewall/index.js';
import type { FwNetwork, FwPort } from '../../src/network/firewall/index.js';
import { makeLab } from './fw-lab.js';
import type { Lab } from './fw-lab.js';

export const N1: FwNetwork = {
  id: 'net1', bridge: 'br0', subnets: ['10.88.1.0/24', 'fd88:1::/64'], gateways: ['10.88.1.1', 'fd88:1::1'],
  internal: false, icc: true, masquerade: true,
};
export const N2: FwNetwork = {
  id: 'net2', bridge: 'br1', subnets: ['10.88.2.0/24', 'fd88:2::/64'], gateways: ['10.88.2.1', 'fd88:2::1'],
  internal: false, icc: true, masquerade: true,
};
const port = (p: Partial<FwPort>): FwPort => ({ netId: 'net1', proto: 'tcp', hostIp: '', hostPort: 8080, containerIp: '10.88.1.2', containerPort: 80, ...p });
export const P_TCP = port({});
export const P_UDP = port({ proto: 'udp', hostPort: 8053, containerPort: 5300 });
export const P_V6 = port({ containerIp: 'fd88:1::2' });
export const P_LO = port({ hostIp: '127.0.0.1', hostPort: 9080 });
export const P_C3 = port({ netId: 'net2', hostPort: 8081, containerIp: '10.88.2.2' });
export const C1_PORTS = [P_TCP, P_UDP, P_V6, P_LO];
export const STATE = { networks: [N1, N2], ports: [...C1_PORTS, P_C3] };

export interface Env { lab: Lab; fw: Firewall }

/** Builds the lab, starts the servers, installs the networks and ports; closes the lab after fn. */
export async function withLab(fn: (env: Env) => Promise<void>, install = true): Promise<void> {
  const lab = makeLab(
    [{ bridge: 'br0', v4: '10.88.1', v6: 'fd88:1::' }, { bridge: 'br1', v4: '10.88.2', v6: 'fd88:2::' }],
    [{ name: 'c1', net: 'br0', host: 2 }, { name: 'c2', net: 'br0', host: 3 }, { name: 'c3', net: 'br1', host: 2 }],
  );
  try {
    await Promise.all([
      lab.server('c1', 'tcp', 80, 'c1'), lab.server('c1', 'udp', 5300, 'c1u'), lab.server('c2', 'tcp', 80, 'c2'),
      lab.server('c3', 'tcp', 80, 'c3'), lab.server('x', 'tcp', 7000, 'x'),
    ]);
    const fw = new Firewall({ netns: lab.nsPath('h') });
    if (install) {
      await fw.addNetwork(N1);
      await fw.addNetwork(N2);
      await fw.addPorts(C1_PORTS);
      await fw.addPorts([P_C3]);
    }
    await fn({ lab, fw });
  } finally {
    lab.close();
  }
}

/** Runs probes concurrently: [role, proto, host, port] -> answers, in order. */
export function probes(lab: Lab, list: [string, 'tcp' | 'udp', string, number][]): Promise<string[]> {
  return Promise.all(list.map(([r, p, h, n]) => lab.probe(r, p, h, n)));
}
