/** Sample documents for the OCI tests: a config using most of runtime-spec 1.3 (Linux) and image documents. */
import type { Spec } from '../../src/oci/index.js';

const D1 = 'sha256:' + 'a'.repeat(64);
const D2 = 'sha256:' + 'b'.repeat(64);
const D3 = 'sha256:' + 'c'.repeat(64);

export function fullConfig(): Spec {
  return {
    ociVersion: '1.3.0',
    process: {
      terminal: false,
      consoleSize: { height: 24, width: 80 },
      user: { uid: 1000, gid: 1000, umask: 18, additionalGids: [5, 6], username: 'u' },
      args: ['/bin/sh', '-c', 'true'],
      env: ['PATH=/bin', 'A=b'],
      cwd: '/tmp',
      capabilities: { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], inheritable: [], permitted: ['CAP_KILL'], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 512 }, { type: 'RLIMIT_CORE', hard: 0, soft: 0 }],
      noNewPrivileges: true,
      apparmorProfile: 'docker-default',
      oomScoreAdj: 100,
      scheduler: { policy: 'SCHED_BATCH', nice: 5, priority: 0, flags: ['SCHED_FLAG_RESET_ON_FORK'], runtime: 0, deadline: 0, period: 0 },
      selinuxLabel: 'system_u:system_r:container_t:s0',
      ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
      execCPUAffinity: { initial: '0', final: '0-1' },
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'box',
    domainname: 'example.org',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/data', type: 'none', source: '/srv/data', options: ['rbind', 'ro'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] },
    ],
    hooks: {
      prestart: [{ path: '/usr/bin/true' }],
      createRuntime: [{ path: '/usr/bin/true', args: ['true', 'x'], env: ['A=1'], timeout: 5 }],
      createContainer: [], startContainer: [], poststart: [], poststop: [{ path: '/bin/true' }],
    },
    annotations: { 'org.example.key': 'value' },
    linux: {
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      timeOffsets: { boottime: { secs: 10, nanosecs: 0 }, monotonic: { secs: -5, nanosecs: 100 } },
      sysctl: { 'net.ipv4.ip_forward': '1' },
      resources: {
        devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
        memory: { limit: 1 << 30, reservation: 1 << 29, swap: 1 << 31, kernel: -1, kernelTCP: -1, swappiness: 10,
          disableOOMKiller: false, useHierarchy: true, checkBeforeUpdate: true },
        cpu: { shares: 1024, quota: 100000, burst: 0, period: 100000, realtimeRuntime: 0, realtimePeriod: 0, cpus: '0-1', mems: '0', idle: 0 },
        pids: { limit: 100 },
        blockIO: { weight: 500, leafWeight: 300, weightDevice: [{ major: 8, minor: 0, weight: 500 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }], throttleWriteBpsDevice: [],
          throttleReadIOPSDevice: [], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 10 }] },
        hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 5 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
        unified: { 'memory.high': '1G' },
      },
      cgroupsPath: '/berth/test',
      namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/x' }, { type: 'mount' }, { type: 'ipc' },
        { type: 'uts' }, { type: 'user' }, { type: 'cgroup' }, { type: 'time' }],
      devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 }],
      netDevices: { eth1: { name: 'ctr1' } },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'], listenerPath: '/run/listener.sock', listenerMetadata: 'meta',
        syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
          { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
      },
      rootfsPropagation: 'slave',
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
      mountLabel: 'system_u:object_r:container_file_t:s0',
      intelRdt: { closID: 'c1', schemata: ['L3:0=ff'], l3CacheSchema: 'L3:0=ff', memBwSchema: 'MB:0=70', enableMonitoring: true },
      memoryPolicy: { mode: 'MPOL_BIND', nodes: '0', flags: ['MPOL_F_STATIC_NODES'] },
      personality: { domain: 'LINUX', flags: [] },
    },
  };
}

export function sampleManifest(): any {
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D1, size: 1469 },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D2, size: 2479, annotations: { 'org.opencontainers.image.title': 'l' } },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: D3, size: 0, urls: ['https://example.com/l'] },
    ],
    annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  };
}

export function sampleIndex(): any {
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D1, size: 528, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D2, size: 528,
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8', 'os.features': ['x'], 'os.version': '1' } },
    ],
  };
}

export function sampleImageConfig(): any {
  return {
    created: '2024-05-01T12:30:00.123456789Z',
    author: 'me',
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: '1000', ExposedPorts: { '80/tcp': {} }, Env: ['PATH=/bin'], Entrypoint: ['/bin/sh'], Cmd: null,
      Volumes: { '/data': {} }, WorkingDir: '/', Labels: { a: 'b' }, StopSignal: 'SIGTERM',
    },
    rootfs: { type: 'layers', diff_ids: [D2, D3] },
    history: [{ created: '2024-05-01T12:30:00Z', created_by: '/bin/sh -c #(nop) ADD', empty_layer: false }],
  };
}
