/**
 * `create`'s network choices: `--network` (default `bridge`, or `none` when the engine has no
 * default bridge), the networks to join and what was asked on each, checked as dockerd does.
 */
import { invalid } from '../../lib/index.js';
import type { EndpointRequest, NetworkRecord } from '../../network/index.js';
import type { RunOptions } from '../spec/index.js';
import type { EngineCore } from '../containers/core.js';
import { ensurePredefined, resolveNetwork } from './records.js';
import { isRootless } from '../rootless/paths.js';
import { havePasta, haveTun, PASTA_MODE } from '../rootless/network.js';
import { isSlirpMode, rootlessDefault } from '../rootless/slirp.js';

export interface Join { net: NetworkRecord; request: EndpointRequest }

export function planNetworks(core: EngineCore, opts: RunOptions, op: string): Join[] {
  // rootless: user-mode networking by pasta is the default (rootless/network.ts)
  const rootless = isRootless();
  // (or slirp4netns where pasta is missing, or the configured one: rootless/slirp.ts)
  const dflt = (rootless && rootlessDefault(core.options.rootlessNetwork, havePasta() && haveTun(), op)) || (core.options.bridge === 'none' ? 'none' : 'bridge');
  const first = opts.networks?.[0]?.network || opts.network || dflt;
  opts.network = first;
  if (first === 'none' || first === 'host' || first.startsWith('container:') || (rootless && (first === PASTA_MODE || isSlirpMode(first, op)))) {
    if ((opts.networks?.length ?? 0) > 1) throw invalid(op, `conflicting options: cannot attach both user-defined and non-user-defined network-modes`);
    if (first === 'host' && opts.publish && Object.keys(opts.publish).length) {
      // Docker warns ("Published ports are discarded when using host network mode") and goes on
      opts.publish = {};
    }
    if (opts.networks?.[0] && (opts.networks[0].ipv4 || opts.networks[0].ipv6)) throw invalid(op, 'user specified IP address is supported on user defined networks only');
    if (opts.networks?.[0]?.aliases?.length) throw invalid(op, 'network-scoped alias is supported only for containers in user defined networks');
    if (first !== 'none' && first !== 'host') return [];
    if (first === 'none' && rootless) opts.publish = {}; // as Docker: nothing to publish from
    ensurePredefined(core);
    return [];
  }
  if (dflt === 'none' && first === 'bridge') {
    throw invalid(op, 'network bridge not found: this engine runs without a default bridge (bridge: none)');
  }
  const list = opts.networks?.length ? opts.networks.map((j, i) => (i === 0 ? { ...j, network: first } : j)) : [{ network: first }];
  const out: Join[] = [];
  for (const j of list) {
    const net = resolveNetwork(core, j.network, op);
    if (net.driver === 'null' || net.driver === 'host') {
      throw invalid(op, `container cannot be disconnected from host network or connected to host network`);
    }
    if (out.some((o) => o.net.id === net.id)) continue;
    if (net.isDefault) {
      if (j.ipv4 || j.ipv6) throw invalid(op, 'user specified IP address is supported on user defined networks only');
      if (j.aliases?.length) throw invalid(op, 'network-scoped alias is supported only for containers in user defined networks');
    }
    if (j.ipv6 && !net.ipv6) throw invalid(op, `user specified IP address is supported only when connecting to networks with user configured subnets`);
    const request: EndpointRequest = {};
    if (j.aliases?.length) request.aliases = j.aliases;
    if (j.ipv4) request.ipv4 = j.ipv4;
    if (j.ipv6) request.ipv6 = j.ipv6;
    if (j.mac) request.mac = j.mac;
    if (j.links?.length) request.links = j.links;
    if (j.driverOpts) request.driverOpts = j.driverOpts;
    out.push({ net, request });
  }
  opts.network = out[0]!.net.isDefault ? 'bridge' : out[0]!.net.name;
  // rootless: the monitor relays the published ports (tcp and udp: attach.ts proxyPorts); the
  // containers share the rootless network namespace's user namespace, or with --userns keep-id
  // have one of their own inside it (rootless/netns.ts)
  const sctp = rootless ? Object.keys(opts.publish ?? {}).find((k) => k.endsWith('/sctp')) : undefined;
  if (sctp) throw invalid(op, `-p ${sctp}: rootless berth forwards tcp and udp only`);
  return out;
}
