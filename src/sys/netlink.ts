/**
 * Network steps (docs/PLAN.md "Network steps"): links, addresses, routes and sysctls done by the
 * helper through rtnetlink — as part of a container's start (the runtime's `netSteps`) or on
 * their own with `berth-helper net` (hot changes: connect, disconnect, bridges, cleanup).
 */
import { spawn } from 'node:child_process';
import { BerthError } from '../lib/index.js';
import { encodePlan, step, type Step } from './plan.js';
import { helperError, helperPath, type HelperMessage } from './helper.js';

/** A network namespace argument: `child` (the container being started: parent steps only), a path, or `-` (the current one). */
export type NetNs = 'child' | '-' | (string & {});
export type MacvlanMode = 'bridge' | 'private' | 'vepa' | 'passthru';
export type IpvlanMode = 'l2' | 'l3' | 'l3s';

function where(ns: NetNs): string {
  return ns === '-' || ns === '' ? '' : ns === 'child' ? ' in the container' : ` in ${ns}`;
}

/** Typed builders for every network step; each `desc` names what it does for error messages. */
export const netStep = {
  /** Following net steps run in this netns (`self`: back to the helper's own; a group ends there anyway). */
  netns: (ns: 'child' | 'self' | (string & {})): Step =>
    step('netns', [ns], ns === 'self' ? 'return to the host network namespace' : ns === 'child' ? 'enter the container\'s network namespace' : `enter the network namespace ${ns}`, ns),
  /** Create (or keep) a bridge and bring it up; an existing link of another kind is EEXIST. */
  bridge: (name: string, o: { mtu?: number; mac?: string } = {}): Step =>
    step('link_bridge', [name, o.mtu ?? 0, o.mac ?? ''], `create bridge ${name}`, name),
  /** A veth pair NAME / PEER, PEER created directly in PEERNS. */
  veth: (name: string, peer: string, peerNs: NetNs = '-', mtu = 0): Step =>
    step('link_veth', [name, peer, peerNs, mtu], `create veth pair ${name} / ${peer}${where(peerNs)}`, name),
  macvlan: (name: string, parent: string, mode: MacvlanMode = 'bridge', ns: NetNs = '-', mtu = 0): Step =>
    step('link_macvlan', [name, parent, mode, ns, mtu], `create macvlan link ${name} on ${parent}${where(ns)}`, name),
  ipvlan: (name: string, parent: string, mode: IpvlanMode = 'l2', ns: NetNs = '-'): Step =>
    step('link_ipvlan', [name, parent, mode, ns], `create ipvlan link ${name} on ${parent}${where(ns)}`, name),
  /** Attach NAME to the bridge MASTER (null: detach). */
  master: (name: string, master: string | null): Step =>
    step('link_master', [name, master ?? '-'], master ? `attach ${name} to ${master}` : `detach ${name} from its master`, name),
  up: (name: string): Step => step('link_up', [name], `bring up ${name}`, name),
  down: (name: string): Step => step('link_down', [name], `bring down ${name}`, name),
  /** The link must be down (the kernel refuses to rename a running link: EBUSY). */
  rename: (name: string, to: string): Step => step('link_rename', [name, to], `rename ${name} to ${to}`, name),
  mac: (name: string, mac: string): Step => step('link_mac', [name, mac], `set the MAC address of ${name} to ${mac}`, name),
  mtu: (name: string, mtu: number): Step => step('link_mtu', [name, mtu], `set the MTU of ${name} to ${mtu}`, name),
  /** Delete a link (a veth: both ends); a missing one is not an error. */
  del: (name: string): Step => step('link_del', [name], `delete ${name}`, name),
  /** Bridge port hairpin mode (a container reaching itself through the host's NAT). */
  hairpin: (name: string, on: boolean): Step => step('link_hairpin', [name, on ? 1 : 0], `turn hairpin mode ${on ? 'on' : 'off'} on ${name}`, name),
  /** Add ADDR/LEN to NAME (IPv6 without duplicate address detection: usable at once). */
  addr: (name: string, cidr: string): Step => step('addr_add', [name, cidr], `add address ${cidr} to ${name}`, name),
  /** A route to DST (`default` or a CIDR) via a gateway ('' for none) and/or out of DEV (''). */
  route: (dst: string, via: string, dev = ''): Step =>
    step('route_add', [dst, via, dev], `add route ${dst}${via ? ` via ${via}` : ''}${dev ? ` dev ${dev}` : ''}`, dst),
  /** Write /proc/sys/KEY (dots or slashes) in the current netns (net.* follow the writer's netns). */
  sysctl: (key: string, value: string | number): Step => step('sysctl', [key, String(value)], `set sysctl ${key}=${value}`, key),
};

/** Steps for the runtime's start of a container (`netSteps` of launch/compileInit). */
export interface NetSteps {
  /** Run by the helper before the clone, after it joined the spec's namespaces (rootless: enter the
   *  rootless network namespace, where the container's own is then made and wired). */
  pre?: Step[];
  /** Run by the helper parent after the clone, before the container is released (`netns child` reaches its netns). */
  parent: Step[];
  /** Run by the container process in its own netns before pivot_root. */
  child: Step[];
  /** `pre` joins the user namespace the container's new one is made in: the helper, root of that
   *  parent, writes the new one's maps itself (no newuidmap; setgroups stays allowed). */
  parentUserns?: boolean;
}

/**
 * Run network steps in a `berth-helper net` process (no clone: the helper itself does them and
 * ends in its own netns). A failing step first deletes the links made by the steps before it.
 * Errors are BerthErrors named by OP and the step, e.g.
 * `connect c1 to net1: add address 10.1.0.2/24 to eth0: File exists (EEXIST)`.
 * `via` (e.g. `nsenter --user=… --net=… --`) runs the helper in other namespaces.
 */
export function runNetSteps(steps: Step[], op: string, via: string[] = []): Promise<void> {
  if (steps.length === 0) return Promise.resolve();
  const input = encodePlan({ pre: [], post: [], child: steps });
  return new Promise((resolve, reject) => {
    // `via`: a command that runs the helper elsewhere (rootless: nsenter into the rootless network namespace)
    const argv = [...via, helperPath(), 'net'];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'], env: {} });
    let err = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => { if (err.length < 65536) err += d; });
    child.stdin!.on('error', () => { /* the exit status tells */ });
    child.stdin!.end(input);
    child.once('error', (e) => reject(new BerthError({ kind: 'system', op, message: `${op}: run berth-helper net: ${e.message}`, cause: e })));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const line = err.trim().split('\n').pop() ?? '';
      let m: HelperMessage;
      try { m = JSON.parse(line) as HelperMessage; } catch {
        m = { type: 'error', message: `berth-helper net ${signal ? `killed by ${signal}` : `exited ${code}`}${line ? `: ${line}` : ''}` };
      }
      reject(helperError(steps, m, op));
    });
  });
}
