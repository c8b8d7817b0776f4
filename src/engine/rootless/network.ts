/**
 * Rootless networking (issue 17): user-mode networking by pasta (Debian `passt`). The container
 * gets a network namespace of its own (as `none`); right after its user namespace's maps are
 * written, the helper parent runs `pasta … PID` (a `pid_exec` step: pasta joins the child's user
 * and network namespaces, configures a tap interface copying the host's addresses and routes, and
 * goes to the background); `-p` ports are forwarded by it from the host. pasta quits when the
 * namespace is gone. User-defined networks inside a rootless network namespace are not done yet.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { step, type Step } from '../../sys/index.js';
import type { RunOptions } from '../spec/index.js';

export const PASTA = '/usr/bin/pasta';
/** The rootless engine's default network mode (podman's name). */
export const PASTA_MODE = 'pasta';

export function havePasta(): boolean {
  try { accessSync(PASTA, constants.X_OK); return true; } catch { return false; }
}

/** pasta needs /dev/net/tun, which some systems keep 0600 root. */
export function haveTun(): boolean {
  try { accessSync('/dev/net/tun', constants.R_OK | constants.W_OK); return true; } catch { return false; }
}

/** pasta's port specs for `-p`: `[ADDR/]HOSTPORT:CPORT`, TCP and UDP apart. */
export function pastaPorts(publish: RunOptions['publish'], op: string): { tcp: string[]; udp: string[] } {
  const tcp: string[] = [], udp: string[] = [];
  for (const [key, bindings] of Object.entries(publish ?? {})) {
    const [port, proto = 'tcp'] = key.split('/');
    if (proto !== 'tcp' && proto !== 'udp') throw new BerthError({ kind: 'usage', op, message: `${op}: -p ${key}: rootless networking forwards tcp and udp only` });
    for (const b of bindings.length ? bindings : [{ HostIp: '', HostPort: '' }]) {
      if (!b.HostPort) throw new BerthError({ kind: 'usage', op, message: `${op}: -p ${key}: rootless networking needs a host port (-p HOSTPORT:${port})` });
      const spec = `${b.HostIp && b.HostIp !== '0.0.0.0' && b.HostIp !== '::' ? `${b.HostIp}/` : ''}${b.HostPort}:${port}`;
      (proto === 'tcp' ? tcp : udp).push(spec);
    }
  }
  return { tcp, udp };
}

/** The helper's post step that starts pasta for the container (run with the child's pid). */
export function pastaSteps(o: RunOptions, op: string, runDir: string): Step[] {
  if (!havePasta()) throw new BerthError({ kind: 'system', op, message: `${op}: rootless networking needs ${PASTA} (apt-get install passt), or use --network none or host` });
  if (!haveTun()) throw new BerthError({ kind: 'system', op, path: '/dev/net/tun', message: `${op}: rootless networking (pasta) needs read and write access to /dev/net/tun (it is usually 0666), or use --network none or host` });
  const { tcp, udp } = pastaPorts(o.publish, op);
  const args = ['--config-net', '--quiet', '--ns-ifname', 'eth0', '--pid', pastaPidFile(runDir),
    '-t', tcp.length ? tcp.join(',') : 'none', '-u', udp.length ? udp.join(',') : 'none', '-T', 'none', '-U', 'none'];
  return [step('pid_exec', [PASTA, args.length, ...args], `start user-mode networking (pasta${tcp.length || udp.length ? `, ports ${[...tcp, ...udp].join(' ')}` : ''})`, PASTA)];
}

/** The wiring of a `pasta` container (none for any other mode). */
export function rootlessNetSteps(o: RunOptions, op: string, runDir: string): { parent: Step[]; child: Step[] } | undefined {
  return o.network === PASTA_MODE ? { parent: pastaSteps(o, op, runDir), child: [] } : undefined;
}

export function pastaPidFile(runDir: string): string {
  return join(runDir, 'pasta.pid');
}

/**
 * Stop the container's pasta (teardown): it holds the network namespace, and its published host
 * ports, until told. Only a pasta process of this user named in the container's pid file is killed.
 */
export function stopPasta(runDir: string): void {
  let pid: number;
  try { pid = Number(readFileSync(pastaPidFile(runDir), 'utf8').trim()); } catch { return; }
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  try {
    const exe = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    if (exe !== PASTA) return; // the pid was reused
    process.kill(pid, 'SIGTERM');
  } catch { /* gone */ }
}
