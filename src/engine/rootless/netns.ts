/**
 * The rootless network namespace (issue 17; podman's rootless-netns): user-defined networks of an
 * ordinary user live in a network namespace of the user's own, owned by a user namespace mapping
 * the user's subordinate ids as a container's (rootless/spec.ts), both held by one small process
 * (`sleep` named `berth-rootless-netns`) whose pid and start time are in
 * `<run-root>/rootless-netns/holder`. pasta (`--config-net`) gives that namespace its way out.
 * The bridges, their addresses, the sysctls and the nft rules of the user's networks are made in
 * it (berth-helper net and nft run under `nsenter --user --net`, root of that user namespace).
 *
 * A container on a user network joins that user namespace (spec: a user namespace with a path);
 * its monitor enters the rootless network namespace before the clone (a `pre` net step), so the
 * container's own network namespace is made inside the user namespace and its veth's outer end is
 * wired to the bridge by the monitor exactly as a rootful container's is to a host bridge, and the
 * embedded DNS binds 127.0.0.11 in it. Its published ports are bound in the host's network namespace
 * by the monitor (`port_proxy`, first in pre) and relayed by it to the container's address on the
 * bridge (native/monitor_proxy.c). The namespace goes when the user's last network is removed
 * (its holder and pasta are killed, its state removed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { emptyPlan, HelperSession, processAlive, procStat, runNetSteps, step, userNsMapSteps, type Step } from '../../sys/index.js';
import { Firewall, NetworkRoom, type FirewallApi, type FwNetwork, type FwPort, type NetworkRecord } from '../../network/index.js';
import { havePasta, PASTA, pastaPidFile } from './network.js';
import { containerMaps, userIds } from './spec.js';
import { lockFile } from '../containers/start-lock.js';
import { haveTun, stopByPidFile } from './tools.js';

const CLONE_NEWNET = 0x40000000;
const CLONE_NEWUSER = 0x10000000;
export const HOLDER_NAME = 'berth-rootless-netns';
const SLEEP = ['/bin/sleep', '/usr/bin/sleep'];

export function netnsDir(runRoot: string): string {
  return join(runRoot, 'rootless-netns');
}

/** The live holder's pid, or undefined (none, or a recorded one that is gone or was reused). */
export function holderPid(runRoot: string): number | undefined {
  let rec: { pid: number; start: number };
  try { rec = JSON.parse(readFileSync(join(netnsDir(runRoot), 'holder'), 'utf8')) as { pid: number; start: number }; } catch { return undefined; }
  if (!Number.isSafeInteger(rec.pid) || rec.pid <= 1) return undefined;
  return processAlive(rec.pid, rec.start) ? rec.pid : undefined;
}

export const nsPaths = (pid: number) => ({ user: `/proc/${pid}/ns/user`, net: `/proc/${pid}/ns/net` });

/** The command prefix running a program as root of the rootless user namespace, in its network namespace. */
export function nsenterVia(pid: number): string[] {
  const p = nsPaths(pid);
  return ['nsenter', `--user=${p.user}`, `--net=${p.net}`, '--'];
}

let starting: Promise<number> | undefined;

/** The holder's pid, the namespace made first when there is none (idempotent). */
export function ensureRootlessNetns(runRoot: string, op: string): Promise<number> {
  const pid = holderPid(runRoot);
  if (pid) return Promise.resolve(pid);
  starting ??= startNetns(runRoot, op).finally(() => { starting = undefined; });
  return starting;
}

/** One maker at a time across the user's berth processes: `<run-root>/rootless-netns.lock` (containers/start-lock.ts's kind). */
async function locked<T>(runRoot: string, op: string, fn: () => Promise<T>): Promise<T> {
  const release = (await lockFile(`${netnsDir(runRoot)}.lock`, true, op, 'the rootless network namespace is still being made by another process', 30_000))!;
  try { return await fn(); } finally { release(); }
}

function startNetns(runRoot: string, op: string): Promise<number> {
  return locked(runRoot, op, async () => holderPid(runRoot) ?? await makeNetns(runRoot, op));
}

async function makeNetns(runRoot: string, op: string): Promise<number> {
  if (!havePasta()) throw new BerthError({ kind: 'system', op, message: `${op}: the rootless network namespace needs ${PASTA} for its way out (apt-get install passt)` });
  if (!haveTun()) throw new BerthError({ kind: 'system', op, path: '/dev/net/tun', message: `${op}: the rootless network namespace (pasta) needs read and write access to /dev/net/tun (it is usually 0666)` });
  stopRootlessNetns(runRoot); // a stale one's pasta and state
  const dir = netnsDir(runRoot);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const sleep = SLEEP.find((p) => existsSync(p)) ?? SLEEP[0]!;
  const ids = userIds();
  const m = containerMaps(ids); // the containers' maps, so that image files keep their owners
  const plan = emptyPlan();
  plan.pre.push(step('spawn', [CLONE_NEWUSER | CLONE_NEWNET], 'create the rootless user and network namespaces'));
  plan.post.push(...userNsMapSteps(ids.mode, m.uid, m.gid), step('report_pid', [], 'report the holder pid'),
    step('release', [], 'release the holder'), step('await_ready', [], 'wait for the holder to start'));
  const argv = [HOLDER_NAME, 'infinity'];
  plan.child.push(step('await_release', [], 'wait for the maps'), step('ifup', ['lo'], 'bring up the loopback interface'),
    step('exec', [sleep, argv.length, ...argv, 0], `run ${sleep}`, sleep));
  const s = new HelperSession(plan, { stdio: ['ignore', 'ignore', 'ignore'] });
  let pid: number;
  try {
    pid = (await s.expect('pid', op)).pid!;
    await s.expect('ready', op);
  } finally {
    s.close();
    await s.exited;
  }
  const start = procStat(pid)?.startTime;
  if (start === undefined) throw new BerthError({ kind: 'system', op, message: `${op}: the rootless network namespace's holder (pid ${pid}) exited at once` });
  writeFileSync(join(dir, 'holder'), JSON.stringify({ pid, start }));
  // pasta joins the holder's namespaces, copies the host's addresses and routes to its tap, and
  // goes to the background; it quits when the namespace is gone
  const args = ['--config-net', '--quiet', '--pid', pastaPidFile(dir), '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', String(pid)];
  const r = spawnSync(PASTA, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  if (r.status !== 0) {
    stopRootlessNetns(runRoot);
    throw new BerthError({ kind: 'system', op, message: `${op}: start pasta for the rootless network namespace: ${(r.stderr || r.error?.message || `exited ${r.status}`).trim()}` });
  }
  return pid;
}

/**
 * Remove the rootless network namespace: pasta and the holder are killed (only processes named in
 * its state whose identity still matches), its state and the network markers removed.
 */
export function stopRootlessNetns(runRoot: string): void {
  const dir = netnsDir(runRoot);
  stopByPidFile(pastaPidFile(dir), PASTA);
  const pid = holderPid(runRoot);
  if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
  // the networks' kernel side went with the namespace
  const state = join(runRoot, 'network');
  let names: string[] = [];
  try { names = readdirSync(state); } catch { /* none */ }
  for (const n of names) if (n.endsWith('.up')) rmSync(join(state, n), { force: true });
}

/** Only deletions: nothing to do when the namespace is gone (its links went with it). */
const onlyDeletes = (steps: Step[]) => steps.every((s) => s.op === 'link_del');

/** Net steps run in the rootless network namespace (made first unless the steps only delete). */
export function rootlessStepRunner(runRoot: string) {
  return async (steps: Step[], op: string): Promise<void> => {
    const pid = onlyDeletes(steps) ? holderPid(runRoot) : await ensureRootlessNetns(runRoot, op);
    if (pid) await runNetSteps(steps, op, nsenterVia(pid));
  };
}

/**
 * The firewall of the rootless network namespace: nft as root of its user namespace. Its networks'
 * rules only: published ports are relayed by the containers' monitors from the host's namespace
 * (`port_proxy`, networks/attach.ts), no rule of this namespace sees the host's packets.
 */
class RootlessFirewall implements FirewallApi {
  constructor(private readonly runRoot: string) {}
  private async fw(op: string, create: boolean): Promise<Firewall | undefined> {
    const pid = create ? await ensureRootlessNetns(this.runRoot, op) : holderPid(this.runRoot);
    if (!pid) return undefined;
    const p = nsPaths(pid);
    return new Firewall({ netns: p.net, userns: p.user });
  }
  async addNetwork(n: FwNetwork) { await (await this.fw('firewall add network', true))!.addNetwork(n); }
  async removeNetwork(n: FwNetwork) { await (await this.fw('firewall remove network', false))?.removeNetwork(n); }
  async addPorts(_ports: FwPort[]) { /* relayed by the monitors */ }
  async removePorts(_ports: FwPort[]) { /* relayed by the monitors */ }
  async reload(state: { networks: FwNetwork[]; ports: FwPort[] }) { await (await this.fw('firewall reload', true))!.reload({ networks: state.networks, ports: [] }); }
}

/** The network room of a rootless engine: its kernel side is the rootless network namespace. */
export class RootlessNetworkRoom extends NetworkRoom {
  constructor(stateDir: string, private readonly runRoot: string) {
    super(stateDir, new RootlessFirewall(runRoot), rootlessStepRunner(runRoot));
  }

  override isUp(net: NetworkRecord): boolean {
    if (net.driver === 'null' || net.driver === 'host') return true;
    try { readFileSync(join(this.stateDir, `${net.id}.up`)); } catch { return false; }
    return holderPid(this.runRoot) !== undefined;
  }
}

/**
 * What a container on a user network needs: the user namespace to join, the pre step entering the
 * rootless netns. `nested` (`--userns keep-id`): the monitor joins that user namespace itself (a
 * pre step) and the container gets a user namespace of its own inside it, whose maps the monitor,
 * root of its parent, writes (runtime/compile.ts, NetSteps.parentUserns).
 */
export async function rootlessJoin(runRoot: string, op: string, nested = false): Promise<{ userns: string; pre: Step[] }> {
  const pid = await ensureRootlessNetns(runRoot, op);
  const p = nsPaths(pid);
  const net = step('setns', [p.net, CLONE_NEWNET], 'enter the rootless network namespace', p.net);
  if (!nested) return { userns: p.user, pre: [net] };
  return { userns: p.user, pre: [step('setns', [p.user, CLONE_NEWUSER], 'enter the rootless network namespace\'s user namespace', p.user), net] };
}
