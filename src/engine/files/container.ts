/** All three generated files of one container, written into its directory. */
import { join } from 'node:path';
import { writeHostnameFile, writeHostsFile, type HostRecord } from './hosts.js';
import { writeResolvConf } from './resolvconf.js';

/** The host files the generated ones are derived from (parameters so tests use temp files). */
export interface HostFilePaths {
  resolvConf: string;
  systemdResolvConf?: string;
  hosts: string;
}

export const DEFAULT_HOST_FILE_PATHS: Readonly<HostFilePaths> = Object.freeze({
  resolvConf: '/etc/resolv.conf',
  systemdResolvConf: '/run/systemd/resolve/resolv.conf',
  hosts: '/etc/hosts',
});

export interface ContainerFilesOptions {
  hostname: string;
  domainname?: string;
  /** 'none' | 'host' | 'bridge' | ... ('container:X' shares the other container's files: the
   *  caller points the mounts there instead of calling this). */
  network: string;
  addresses?: string[];
  extraHosts?: HostRecord[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  ipv6?: boolean;
  /** Resolve through the embedded DNS server (user-defined networks). */
  embeddedDns?: boolean;
}

export interface ContainerFilePaths { hostname: string; hosts: string; resolvConf: string }

/** The paths of the generated files in a container directory (Docker's names). */
export function containerFilePaths(containerDir: string): ContainerFilePaths {
  return { hostname: join(containerDir, 'hostname'), hosts: join(containerDir, 'hosts'), resolvConf: join(containerDir, 'resolv.conf') };
}

/** Write hostname, hosts and resolv.conf atomically into `containerDir` (which must exist). */
export async function writeContainerFiles(containerDir: string, opts: ContainerFilesOptions, host: HostFilePaths): Promise<ContainerFilePaths> {
  const paths = containerFilePaths(containerDir);
  const isHost = opts.network === 'host';
  await writeHostnameFile(paths.hostname, opts.hostname);
  await writeHostsFile(paths.hosts, {
    hostname: opts.hostname, domainname: opts.domainname,
    addresses: isHost || opts.network === 'none' ? [] : opts.addresses,
    extraHosts: opts.extraHosts,
    hostHostsPath: isHost ? host.hosts : undefined,
  });
  await writeResolvConf(paths.resolvConf, {
    network: opts.network, hostResolvConf: host.resolvConf, systemdResolvConf: host.systemdResolvConf,
    dns: opts.dns, dnsSearch: opts.dnsSearch, dnsOptions: opts.dnsOptions, ipv6: opts.ipv6, embeddedDns: opts.embeddedDns,
  });
  return paths;
}
