/** Docker run/create options + image config -> OCI runtime spec, and the flag value parsers. */
export * from './types.js';
export * from './build.js';
export * from './config.js';
export * from './values.js';
export { mergeTmpfsOptions, convertTmpfsOptions, DEFAULT_SHM_SIZE } from './mounts.js';
export { parseCpuset, validateResources, buildResources, buildRlimits, MIN_MEMORY, RLIMIT_INFINITY } from './resources.js';
export { parseSecurityOpts, tweakCapabilities, allCapabilities, hostMaskedPaths, hostDevices, devicesFromPath, type SecurityOptions } from './security.js';
export { containerNsPath, validateSysctls } from './namespaces.js';
export { resolveUser, getExecUser, getAdditionalGroups, parsePasswd, parseGroup, type ExecUser, type PasswdEntry, type GroupEntry } from './user.js';
export { resolveInRootfs, readRootfsFile } from './rootfs.js';
