/**
 * The Go types of the JSON bodies moby decodes, checked before a handler runs: a field of the
 * wrong type (`"Cmd": 5`, `"Env": "x"`, `"HostConfig": {"Memory": "lots"}`) is a 400 that names
 * the field, as moby's decoder answers, never a handler's TypeError (a 500). Unknown fields pass
 * (clients send many); `null` is Go's zero value anywhere.
 */
import { ApiError } from './http.js';

/** str, bool, int (int64), strs ([]string), slice (string or []string: strslice), smap (map[string]string), obj (any object). */
type Leaf = 'str' | 'bool' | 'int' | 'strs' | 'slice' | 'smap' | 'obj';
export type Schema = Leaf | { o: Record<string, Schema> } | { a: Schema } | { m: Schema };

const GO: Record<Leaf, string> = {
  str: 'string', bool: 'bool', int: 'int64', strs: '[]string', slice: 'strslice.StrSlice', smap: 'map[string]string', obj: 'struct',
};

const goType = (s: Schema): string => (typeof s === 'string' ? GO[s] : 'o' in s ? 'struct' : 'a' in s ? `[]${goType(s.a)}` : `map[string]${goType(s.m)}`);
const kind = (v: unknown): string => (Array.isArray(v) ? 'array' : typeof v === 'boolean' ? 'bool' : typeof v === 'object' ? 'object' : typeof v);

function fail(v: unknown, s: Schema, field: string): never {
  const what = typeof v === 'number' ? `number ${v}` : kind(v);
  throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${what} into Go struct field ${field} of type ${goType(s)}`);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws a 400 naming the first field whose value Go would refuse. */
export function check(v: unknown, s: Schema, field: string): void {
  if (v === null || v === undefined) return;
  if (typeof s === 'string') {
    switch (s) {
      case 'str': if (typeof v !== 'string') fail(v, s, field); return;
      case 'bool': if (typeof v !== 'boolean') fail(v, s, field); return;
      case 'int': if (typeof v !== 'number' || !Number.isInteger(v)) fail(v, s, field); return;
      case 'strs': return check(v, { a: 'str' }, field);
      case 'slice': if (typeof v !== 'string') check(v, { a: 'str' }, field); return;
      case 'smap': return check(v, { m: 'str' }, field);
      case 'obj': if (!isObj(v)) fail(v, s, field); return;
    }
  }
  if ('a' in s) {
    if (!Array.isArray(v)) fail(v, s, field);
    v.forEach((x) => check(x, s.a, field));
    return;
  }
  if (!isObj(v)) fail(v, s, field);
  if ('m' in s) { for (const x of Object.values(v)) check(x, s.m, field); return; }
  for (const [k, t] of Object.entries(s.o)) check(v[k], t, field ? `${field}.${k}` : k);
}

const mapOf = (keys: string, t: Schema) => Object.fromEntries(keys.split(' ').map((k) => [k, t]));

const HEALTH: Schema = { o: { Test: 'slice', ...mapOf('Interval Timeout Retries StartPeriod StartInterval', 'int') } };
const CONFIG_FIELDS: Record<string, Schema> = {
  ...mapOf('Hostname Domainname User Image WorkingDir MacAddress StopSignal', 'str'),
  ...mapOf('AttachStdin AttachStdout AttachStderr Tty OpenStdin StdinOnce ArgsEscaped NetworkDisabled', 'bool'),
  Env: 'strs', OnBuild: 'strs', Cmd: 'slice', Entrypoint: 'slice', Shell: 'slice', Labels: 'smap', StopTimeout: 'int',
  ExposedPorts: { m: 'obj' }, Volumes: { m: 'obj' }, Healthcheck: HEALTH,
};

const RESOURCES: Record<string, Schema> = {
  ...mapOf('CpuShares Memory NanoCpus BlkioWeight CpuPeriod CpuQuota CpuRealtimePeriod CpuRealtimeRuntime KernelMemory KernelMemoryTCP '
    + 'MemoryReservation MemorySwap MemorySwappiness PidsLimit CpuCount CpuPercent IOMaximumIOps IOMaximumBandwidth', 'int'),
  ...mapOf('CgroupParent CpusetCpus CpusetMems', 'str'),
  OomKillDisable: 'bool', DeviceCgroupRules: 'strs',
  Devices: { a: { o: mapOf('PathOnHost PathInContainer CgroupPermissions', 'str') } },
  Ulimits: { a: { o: { Name: 'str', Soft: 'int', Hard: 'int' } } },
  BlkioWeightDevice: { a: 'obj' }, DeviceRequests: { a: 'obj' },
};
const RESTART: Schema = { o: { Name: 'str', MaximumRetryCount: 'int' } };

const HOST_CONFIG: Schema = {
  o: {
    ...RESOURCES,
    ...mapOf('Binds VolumesFrom Dns DnsOptions DnsSearch ExtraHosts GroupAdd Links SecurityOpt MaskedPaths ReadonlyPaths', 'strs'),
    ...mapOf('ContainerIDFile NetworkMode VolumeDriver CgroupnsMode IpcMode Cgroup PidMode UTSMode UsernsMode Runtime Isolation', 'str'),
    ...mapOf('AutoRemove Privileged PublishAllPorts ReadonlyRootfs Init', 'bool'),
    CapAdd: 'slice', CapDrop: 'slice', OomScoreAdj: 'int', ShmSize: 'int', ConsoleSize: { a: 'int' },
    ...mapOf('Annotations StorageOpt Tmpfs Sysctls', 'smap'),
    LogConfig: { o: { Type: 'str', Config: 'smap' } },
    PortBindings: { m: { a: { o: { HostIp: 'str', HostPort: 'str' } } } },
    RestartPolicy: RESTART,
    Mounts: { a: { o: { ...mapOf('Target Source Type Consistency', 'str'), ReadOnly: 'bool', BindOptions: 'obj', VolumeOptions: 'obj', TmpfsOptions: 'obj' } } },
  },
};

const ENDPOINT: Schema = {
  o: {
    IPAMConfig: { o: { IPv4Address: 'str', IPv6Address: 'str', LinkLocalIPs: 'strs' } },
    Links: 'strs', Aliases: 'strs', DNSNames: 'strs', DriverOpts: 'smap',
    ...mapOf('MacAddress NetworkID EndpointID Gateway IPAddress', 'str'),
  },
};

const CONTAINER_CREATE: Schema = { o: { ...CONFIG_FIELDS, HostConfig: HOST_CONFIG, NetworkingConfig: { o: { EndpointsConfig: { m: ENDPOINT } } } } };
const EXEC_CREATE: Schema = {
  o: { ...mapOf('AttachStdin AttachStdout AttachStderr Tty Privileged', 'bool'), ...mapOf('DetachKeys User WorkingDir', 'str'), Env: 'strs', Cmd: 'strs', ConsoleSize: { a: 'int' } },
};
const NETWORK_CREATE: Schema = {
  o: {
    ...mapOf('Name Driver Scope', 'str'), ...mapOf('CheckDuplicate EnableIPv4 EnableIPv6 Internal Attachable Ingress ConfigOnly', 'bool'),
    IPAM: { o: { Driver: 'str', Options: 'smap', Config: { a: { o: { ...mapOf('Subnet IPRange Gateway', 'str'), AuxiliaryAddresses: 'smap' } } } } },
    ConfigFrom: { o: { Network: 'str' } }, Options: 'smap', Labels: 'smap',
  },
};

/** Bodies by method and route path (after the version prefix). */
const BODIES: Array<[string, RegExp, Schema]> = [
  ['POST', /^\/containers\/create$/, CONTAINER_CREATE],
  ['POST', /^\/containers\/[^/]+\/update$/, { o: { ...RESOURCES, RestartPolicy: RESTART } }],
  ['POST', /^\/containers\/[^/]+\/exec$/, EXEC_CREATE],
  ['POST', /^\/exec\/[^/]+\/start$/, { o: { Detach: 'bool', Tty: 'bool', ConsoleSize: { a: 'int' } } }],
  ['POST', /^\/commit$/, { o: CONFIG_FIELDS }],
  ['POST', /^\/networks\/create$/, NETWORK_CREATE],
  ['POST', /^\/networks\/[^/]+\/connect$/, { o: { Container: 'str', EndpointConfig: ENDPOINT } }],
  ['POST', /^\/networks\/[^/]+\/disconnect$/, { o: { Container: 'str', Force: 'bool' } }],
  ['POST', /^\/volumes\/create$/, { o: { ...mapOf('Name Driver', 'str'), DriverOpts: 'smap', Labels: 'smap', ClusterVolumeSpec: 'obj' } }],
];

export function bodySchema(method: string, path: string): Schema | undefined {
  return BODIES.find(([m, re]) => m === method && re.test(path))?.[2];
}

/** A request body as its route's Go type: a JSON object (null = {}), each known field of its type. */
export function checkBody(value: unknown, s: Schema): Record<string, unknown> {
  if (value === null) return {};
  if (!isObj(value)) throw new ApiError(400, `invalid JSON: json: cannot unmarshal ${kind(value)} into Go value of type struct`);
  check(value, s, '');
  return value;
}
