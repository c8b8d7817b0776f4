/** Files the engine generates per container (hostname, hosts, resolv.conf) and local volume directories. */
export { writeFileAtomic } from './atomic.js';
export {
  type HostRecord, type HostsOptions, DEFAULT_HOSTS_IPV4, DEFAULT_HOSTS_IPV6,
  hostnameContent, hostsContent, buildHosts, ownHostNames, parseAddHost, writeHostnameFile, writeHostsFile,
} from './hosts.js';
export {
  type ResolvConfOptions, type ParsedResolvConf, DEFAULT_IPV4_DNS, DEFAULT_IPV6_DNS, SYSTEMD_RESOLVED_STUB,
  parseResolvConf, sourceResolvConf, filterResolvConf, buildResolvConfContent, buildResolvConf, writeResolvConf,
} from './resolvconf.js';
export {
  type HostFilePaths, type ContainerFilesOptions, type ContainerFilePaths, DEFAULT_HOST_FILE_PATHS,
  containerFilePaths, writeContainerFiles,
} from './container.js';
export {
  VOLUME_NAME_CHARS, validateVolumeName, volumesDir, volumeDir, volumeDataPath, createVolumeDir, removeVolumeDir, isEmptyDir,
} from './volumes.js';
export { type CopyUpResult, copyUp } from './copyup.js';
