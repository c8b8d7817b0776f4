/**
 * Rootless networking (issue 17): user-mode networking by pasta (Debian `passt`). The container
 * gets a network namespace of its own (as `none`); right after its user namespace's maps are
 * written, the helper parent runs `pasta … PID` (a `pid_exec` step: pasta joins the child's user
 * and network namespaces, configures a tap interface copying the host's addresses and routes, and
 * goes to the background); `-p` ports are forwarded by it from the host. pasta quits when the
 * namespace is gone. Host ports are chosen and recorded as rootful ones (inspect, ps, port show
 * them). User-defined networks are bridges in the rootless network namespace (netns.ts).
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { step, type Step } from '../../sys/index.js';
import type { RunOptions } from '../spec/index.js';
import type { PublishedPort } from '../../network/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from '../containers/core.js';
import { allocatePorts, reclaimStale } from '../networks/attach.js';
import { isRootless } from './paths.js';
import { isSlirpMode, slirpNetSteps, stopSlirp } from './slirp.js';
import { haveTun, stopByPidFile } from './tools.js';

export const PASTA = '/usr/bin/pasta';
/** The rootless engine's default network mode (podman's name). */
export const PASTA_MODE = 'pasta';

export function havePasta(): boolean {
  try { accessSync(PASTA, constants.X_OK); return true; } catch { return false; }
}

export { haveTun } from './tools.js';

/** pasta's port specs for the chosen host ports: `[ADDR/]HOSTPORT:CPORT`, TCP and UDP apart. */
export function pastaPorts(ports: PublishedPort[], op: string): { tcp: string[]; udp: string[] } {
  const tcp: string[] = [], udp: string[] = [];
  for (const p of ports) {
    if (p.proto !== 'tcp' && p.proto !== 'udp') throw new BerthError({ kind: 'usage', op, message: `${op}: -p ${p.containerPort}/${p.proto}: rootless networking forwards tcp and udp only` });
    const spec = `${p.hostIp && p.hostIp !== '::' ? `${p.hostIp}/` : ''}${p.hostPort}:${p.containerPort}`;
    (p.proto === 'tcp' ? tcp : udp).push(spec);
  }
  return { tcp, udp };
}

function checkPasta(op: string): void {
  if (!havePasta()) throw new BerthError({ kind: 'system', op, message: `${op}: rootless networking needs ${PASTA} (apt-get install passt), or use --network none or host` });
  if (!haveTun()) throw new BerthError({ kind: 'system', op, path: '/dev/net/tun', message: `${op}: rootless networking (pasta) needs read and write access to /dev/net/tun (it is usually 0666), or use --network none or host` });
}

/** The helper's post step that starts pasta for the container (run with the child's pid). */
export function pastaSteps(ports: PublishedPort[], op: string, runDir: string): Step[] {
  checkPasta(op);
  const { tcp, udp } = pastaPorts(ports, op);
  const args = ['--config-net', '--quiet', '--ns-ifname', 'eth0', '--pid', pastaPidFile(runDir),
    '-t', tcp.length ? tcp.join(',') : 'none', '-u', udp.length ? udp.join(',') : 'none', '-T', 'none', '-U', 'none'];
  return [step('pid_exec', [PASTA, args.length, ...args], `start user-mode networking (pasta${tcp.length || udp.length ? `, ports ${[...tcp, ...udp].join(' ')}` : ''})`, PASTA)];
}

/**
 * The wiring of a `pasta` container (none for any other mode). Its host ports are chosen and
 * recorded as a rootful container's are (`-p 80` and `-P` get free ephemeral ports), so that
 * inspect's NetworkSettings.Ports, ps's PORTS and `port` show them; teardown releases them.
 */
export async function rootlessNetSteps(core: EngineCore, c: Container, o: RunOptions, op: string, runDir: string): Promise<{ parent: Step[]; child: Step[] } | undefined> {
  if (isSlirpMode(o.network)) return slirpNetSteps(core, c, o, op, runDir); // rootless/slirp.ts
  if (o.network !== PASTA_MODE) return undefined;
  checkPasta(op);
  await reclaimStale(core, c.id, []);
  const ports = core.store.tx(() => { core.store.networks.release(c.id); return allocatePorts(core, c, o, op); });
  return { parent: pastaSteps(ports, op, runDir), child: [] };
}

/**
 * A rootless engine's user-defined networks are bridges in its rootless network namespace
 * (rootless/netns.ts); macvlan and ipvlan need a parent link of the host's: refused before any record is made.
 */
export function refuseUserNetwork(op: string, driver = 'bridge'): void {
  if (!isRootless() || driver === 'bridge') return;
  throw new BerthError({ kind: 'usage', op, message: `${op}: driver ${driver}: not supported by rootless berth (its networks are bridges in the rootless network namespace); use the bridge driver` });
}

export function pastaPidFile(runDir: string): string {
  return join(runDir, 'pasta.pid');
}

/**
 * Stop the container's pasta (teardown): it holds the network namespace, and its published host
 * ports, until told. Only a pasta process of this user named in the container's pid file is killed.
 */
export function stopPasta(runDir: string): void {
  stopSlirp(runDir); // and slirp4netns's (rootless/slirp.ts)
  stopByPidFile(pastaPidFile(runDir), PASTA);
}
