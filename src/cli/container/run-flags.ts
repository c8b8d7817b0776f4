/**
 * `berth run` / `berth create` command line (docker/cli cli/command/container/{run,create,opts}.go):
 * argv -> the engine's typed RunOptions plus the options only the CLI acts on. Flags stop at the
 * image name; everything after it is the command. Value errors read like Docker's:
 * flag-time values (`-m x`) -> `invalid argument "x" for "-m, --memory" flag: ...` + `See '...'`,
 * parse-time checks (`--pid x`) -> `berth: --pid: invalid PID mode.` + `See '...'` (both usage,
 * exit 125); what the daemon validates (`-v`, mount configs, names) -> BerthError kind 'invalid'.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { mergePortMaps, parseExpose, parsePortSpec } from '../../network/index.js';
import { parseAddHost } from '../../engine/files/index.js';
import { BerthError, usage } from '../../lib/index.js';
import {
  flagError, parseCpus, parseDevice, parseEnv, parseEnvFile, parseLabel, parseLabelFile, parseMemorySwap,
  parseMount, parseSecurityOpt, parseSize, parseSysctl, parseThrottleBps, parseThrottleIops, parseTmpfs,
  parseUlimit, parseVolume, parseWeightDevice, type RunOptions, type Ulimit,
} from '../../engine/spec/index.js';
import { helpText, parseFlags, type FlagSpec, type ParsedFlags } from '../flags.js';
import { parseRestartPolicy, validateRestartPolicy, type RestartPolicy } from '../../engine/containers/restart-policy.js';
import { HEALTH_ACTIONS, parseGoDuration } from '../../engine/index.js';

export type RunCommand = 'run' | 'create';
export type PullPolicy = 'always' | 'missing' | 'never';

/** What the CLI does around the engine call (not part of the container's spec). */
export interface RunCliOptions {
  /** `-d` (run only). */
  detach: boolean;
  interactive: boolean;
  tty: boolean;
  rm: boolean;
  name?: string;
  platform?: string;
  pull: PullPolicy;
  /** `-q`: no pull progress. */
  quiet: boolean;
  cidfile?: string;
  /** `--detach-keys` (run only), as given, e.g. `ctrl-p,ctrl-q`. */
  detachKeys?: string;
  /** `--sig-proxy` (run only; default true). */
  sigProxy: boolean;
  /** `-a stdin|stdout|stderr` (lower-cased). */
  attach: string[];
  /** `--restart` policy as given (`no` by default). */
  restart: string;
  /** `--log-opt max-size=` (bytes, decimal units as json-file) and `max-file=`. */
  logOpts: { maxSize?: number; maxFile?: number };
  volumesFrom: string[];
  image: string;
  /** The words after the image (also RunOptions.cmd when non-empty). */
  args: string[];
}

export type RunParse =
  | { kind: 'help'; text: string }
  | { kind: 'run'; options: RunOptions; cli: RunCliOptions };

export interface RunParseContext {
  /** For `-v ./x:/y` and `--mount src=./x`; default process.cwd(). */
  cwd?: string;
  /** Environment lookup for `-e K` / env-file `K`; default process.env. */
  env?: (key: string) => string | undefined;
  /** Reads --env-file, --label-file and seccomp profiles; default fs.readFileSync utf8. */
  readFile?: (path: string) => string;
  /** Program name in messages; default `berth`. */
  program?: string;
}

const S = (name: string, help: string, short?: string, metavar?: string): FlagSpec => ({ name, short, type: 'string', help, metavar });
const L = (name: string, help: string, short?: string, metavar?: string): FlagSpec => ({ name, short, type: 'strings', help, metavar });
const B = (name: string, help: string, short?: string): FlagSpec => ({ name, short, type: 'bool', help });

const COMMON: FlagSpec[] = [
  L('attach', 'Attach to STDIN, STDOUT or STDERR', 'a'),
  S('blkio-weight', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', undefined, 'uint16'),
  L('blkio-weight-device', 'Block IO weight (relative device weight)'),
  L('cap-add', 'Add Linux capabilities'),
  L('cap-drop', 'Drop Linux capabilities'),
  S('cgroup-parent', 'Optional parent cgroup for the container'),
  S('cgroupns', "Cgroup namespace to use (host|private)"),
  S('cidfile', 'Write the container ID to the file'),
  S('cpu-period', 'Limit CPU CFS (Completely Fair Scheduler) period', undefined, 'int'),
  S('cpu-quota', 'Limit CPU CFS (Completely Fair Scheduler) quota', undefined, 'int'),
  S('cpu-rt-period', 'Limit CPU real-time period in microseconds', undefined, 'int'),
  S('cpu-rt-runtime', 'Limit CPU real-time runtime in microseconds', undefined, 'int'),
  S('cpu-shares', 'CPU shares (relative weight)', 'c', 'int'),
  S('cpus', 'Number of CPUs', undefined, 'decimal'),
  S('cpuset-cpus', 'CPUs in which to allow execution (0-3, 0,1)'),
  S('cpuset-mems', 'MEMs in which to allow execution (0-3, 0,1)'),
  L('add-host', 'Add a custom host-to-IP mapping (host:ip)', undefined, 'list'),
  L('device', 'Add a host device to the container'),
  L('dns', 'Set custom DNS servers', undefined, 'list'),
  { name: 'dns-opt', type: 'strings' },
  L('dns-option', 'Set DNS options', undefined, 'list'),
  L('dns-search', 'Set custom DNS search domains', undefined, 'list'),
  L('expose', 'Expose a port or a range of ports', undefined, 'list'),
  S('ip', 'IPv4 address (e.g., 172.30.100.104)'),
  S('ip6', 'IPv6 address (e.g., 2001:db8::33)'),
  L('link', 'Add link to another container', undefined, 'list'),
  S('mac-address', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)'),
  { name: 'net-alias', type: 'strings' },
  L('network-alias', 'Add network-scoped alias for the container', undefined, 'list'),
  L('publish', "Publish a container's port(s) to the host", 'p', 'list'),
  B('publish-all', 'Publish all exposed ports to random ports', 'P'),
  L('device-read-bps', 'Limit read rate (bytes per second) from a device'),
  L('device-read-iops', 'Limit read rate (IO per second) from a device'),
  L('device-write-bps', 'Limit write rate (bytes per second) to a device'),
  L('device-write-iops', 'Limit write rate (IO per second) to a device'),
  S('domainname', 'Container NIS domain name'),
  S('entrypoint', 'Overwrite the default ENTRYPOINT of the image'),
  L('env', 'Set environment variables', 'e'),
  L('env-file', 'Read in a file of environment variables'),
  L('group-add', 'Add additional groups to join'),
  S('health-cmd', 'Command to run to check health'),
  S('health-interval', 'Time between running the check (ms|s|m|h) (default 0s)', undefined, 'duration'),
  S('health-on-failure', 'Action to take once the container turns unhealthy (none, kill, restart, stop)'),
  { name: 'health-retries', type: 'int', help: 'Consecutive failures needed to report unhealthy' },
  S('health-start-interval', 'Time between running the check during the start period (ms|s|m|h) (default 0s)', undefined, 'duration'),
  S('health-start-period', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)', undefined, 'duration'),
  S('health-timeout', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)', undefined, 'duration'),
  S('hostname', 'Container host name', 'h'),
  B('init', 'Run an init inside the container that forwards signals and reaps processes'),
  B('interactive', 'Keep STDIN open even if not attached', 'i'),
  S('ipc', 'IPC mode to use'),
  L('label', 'Set meta data on a container', 'l'),
  L('label-file', 'Read in a line delimited file of labels'),
  L('log-opt', 'Log driver options'),
  S('memory', 'Memory limit', 'm', 'bytes'),
  S('memory-reservation', 'Memory soft limit', undefined, 'bytes'),
  S('memory-swap', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", undefined, 'bytes'),
  { name: 'memory-swappiness', type: 'int', default: -1, help: 'Tune container memory swappiness (0 to 100)' },
  L('mount', 'Attach a filesystem mount to the container', undefined, 'mount'),
  S('name', 'Assign a name to the container'),
  B('no-healthcheck', 'Disable any container-specified HEALTHCHECK'),
  { name: 'net', type: 'strings' },
  L('network', 'Connect a container to a network', undefined, 'network'),
  B('oom-kill-disable', 'Disable OOM Killer'),
  { name: 'oom-score-adj', type: 'int', help: "Tune host's OOM preferences (-1000 to 1000)" },
  S('pid', 'PID namespace to use'),
  { name: 'pids-limit', type: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
  S('platform', 'Set platform if server is multi-platform capable'),
  B('privileged', 'Give extended privileges to this container'),
  { name: 'pull', type: 'string', default: 'missing', help: 'Pull image before running ("always", "missing", "never")' },
  B('quiet', 'Suppress the pull output', 'q'),
  B('read-only', "Mount the container's root filesystem as read only"),
  { name: 'restart', type: 'string', default: 'no', help: 'Restart policy to apply when a container exits' },
  B('rm', 'Automatically remove the container and its associated anonymous volumes when it exits'),
  L('security-opt', 'Security Options'),
  S('shm-size', 'Size of /dev/shm', undefined, 'bytes'),
  S('stop-signal', 'Signal to stop the container'),
  { name: 'stop-timeout', type: 'int', help: 'Timeout (in seconds) to stop a container' },
  L('sysctl', 'Sysctl options', undefined, 'map'),
  L('tmpfs', 'Mount a tmpfs directory'),
  B('tty', 'Allocate a pseudo-TTY', 't'),
  L('ulimit', 'Ulimit options', undefined, 'ulimit'),
  S('user', 'Username or UID (format: <name|uid>[:<group|gid>])', 'u'),
  S('userns', 'User namespace to use'),
  S('uts', 'UTS namespace to use'),
  L('volume', 'Bind mount a volume', 'v'),
  L('volumes-from', 'Mount volumes from the specified container(s)'),
  S('workdir', 'Working directory inside the container', 'w'),
];

const RUN_ONLY: FlagSpec[] = [
  B('detach', 'Run container in background and print container ID', 'd'),
  S('detach-keys', 'Override the key sequence for detaching a container'),
  { name: 'sig-proxy', type: 'bool', default: true, help: 'Proxy received signals to the process' },
];

const DESCRIPTION: Record<RunCommand, string> = {
  run: 'Create and run a new container from an image',
  create: 'Create a new container',
};

/** The flag specs of `run` or `create`. */
export function runFlagSpecs(command: RunCommand): FlagSpec[] {
  return command === 'run' ? [...COMMON, ...RUN_ONLY] : COMMON;
}

export function runUsageLine(command: RunCommand, program = 'berth'): string {
  return `${program} ${command} [OPTIONS] IMAGE [COMMAND] [ARG...]`;
}

/** `--help` text in Docker's layout. */
export function runHelp(command: RunCommand, program = 'berth'): string {
  return helpText(runUsageLine(command, program), DESCRIPTION[command], runFlagSpecs(command), 'Aliases:\n  ' +
    (command === 'run' ? `${program} container run, ${program} run` : `${program} container create, ${program} create`));
}

/** go-units FromHumanSize (decimal units, as the json-file driver reads max-size). */
function decimalSize(text: string): number {
  parseSize(text); // same syntax and wording; the multiplier differs
  const m = /([kmgtp])(i?b)?$/i.exec(text.trim());
  const num = Number(text.replace(/\s*[a-z]+$/i, ''));
  return Math.trunc(m ? num * 1000 ** ('kmgtp'.indexOf(m[1].toLowerCase()) + 1) : num);
}

const DETACH_KEY = /^(ctrl-[a-z@[\\\]^_]|.)$/;
const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Parse `run`/`create` argv (after the command word). Throws BerthError (see the file header). */
export function parseRunArgs(command: RunCommand, argv: string[], ctx: RunParseContext = {}): RunParse {
  const program = ctx.program ?? 'berth';
  const cmdPath = `${program} ${command}`;
  const specs = runFlagSpecs(command);
  const byName = new Map(specs.map((s) => [s.name, s]));
  const see = `\nSee '${cmdPath} --help'.`;
  const p: ParsedFlags = parseFlags(argv, specs, { command: cmdPath, stopAtFirstArg: true });
  if (p.flags.help) return { kind: 'help', text: runHelp(command, program) };
  if (p.args.length < 1) {
    throw usage(cmdPath, `"${cmdPath}" requires at least 1 argument.${see}\n\nUsage:  ${runUsageLine(command, program)}\n\n${DESCRIPTION[command]}`);
  }
  const env = ctx.env ?? ((k: string) => process.env[k]);
  const readFile = ctx.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const cwd = ctx.cwd ?? process.cwd();
  const has = (n: string) => p.set.has(n);
  const str = (n: string) => p.flags[n] as string;
  const list = (n: string) => p.flags[n] as string[];
  const num = (n: string) => p.flags[n] as number;
  const describe = (n: string) => { const s = byName.get(n)!; return s.short ? `-${s.short}, --${n}` : `--${n}`; };
  // A value the CLI parses while reading flags (pflag Value.Set).
  const flagVal = <T>(n: string, v: string, parse: (v: string) => T): T => {
    try { return parse(v); } catch (e) {
      if (e instanceof BerthError && e.kind !== 'usage') throw e;
      throw usage(cmdPath, flagError(describe(n), v, e).message + see);
    }
  };
  // A check of runconfig's parse(): `berth: <msg>.` + See.
  const parseErr = (msg: string) => usage(cmdPath, `${program}: ${msg.replace(/\.$/, '')}.${see}`);
  // A file the CLI could not read (--env-file, --label-file): Docker's `docker: open F: …` + Run.
  const readOrFail = (f: string): string => {
    try { return readFile(f); } catch (e) {
      throw usage(cmdPath, `${program}: ${usageFs(e, f).message}\n\nRun '${cmdPath} --help' for more information`);
    }
  };
  const atParse = <T>(f: () => T): T => {
    try { return f(); } catch (e) {
      if (e instanceof BerthError && e.kind !== 'usage') throw e;
      throw parseErr((e as Error).message);
    }
  };
  const invalid = (message: string) => new BerthError({ kind: 'invalid', op: cmdPath, message });
  const int64 = (n: string, unsigned = false, max = Number.MAX_SAFE_INTEGER) => flagVal(n, str(n), (v) => {
    const fn = unsigned ? 'strconv.ParseUint' : 'strconv.ParseInt';
    if (!(unsigned ? /^\+?\d+$/ : /^[+-]?\d+$/).test(v)) throw new Error(`${fn}: parsing ${JSON.stringify(v)}: invalid syntax`);
    const x = Number(v);
    if (Math.abs(x) > max) throw new Error(`${fn}: parsing ${JSON.stringify(v)}: value out of range`);
    return x;
  });

  const o: RunOptions = {};
  // general
  const [image, ...args] = p.args;
  if (args.length) o.cmd = args;
  if (has('entrypoint')) o.entrypoint = str('entrypoint');
  const envList: string[] = [];
  for (const f of list('env-file')) {
    const content = readOrFail(f);
    envList.push(...atParse(() => parseEnvFile(content, f, env)));
  }
  for (const e of list('env')) envList.push(flagVal('env', e, (v) => parseEnv(v, env)));
  if (envList.length) o.env = envList;
  if (has('workdir')) o.workdir = str('workdir');
  if (has('user')) o.user = str('user');
  if (has('hostname')) o.hostname = str('hostname');
  if (has('domainname')) o.domainname = str('domainname');
  const labels: Record<string, string> = {};
  for (const f of list('label-file')) {
    const content = readOrFail(f);
    Object.assign(labels, atParse(() => parseLabelFile(content, f)));
  }
  for (const l of list('label')) { const [k, v] = flagVal('label', l, parseLabel); labels[k] = v; }
  if (Object.keys(labels).length) o.labels = labels;
  if (has('init')) o.init = p.flags.init as boolean;
  if (has('stop-signal')) o.stopSignal = str('stop-signal');
  if (has('stop-timeout')) o.stopTimeout = num('stop-timeout');
  // healthcheck (docker/cli opts.go: negative values, --no-healthcheck conflicts)
  const dur = (n: string) => (has(n) ? flagVal(n, str(n), parseGoDuration) : 0);
  const hc = {
    Test: has('health-cmd') && str('health-cmd') ? ['CMD-SHELL', str('health-cmd')] : undefined,
    Interval: dur('health-interval'), Timeout: dur('health-timeout'), StartPeriod: dur('health-start-period'),
    StartInterval: dur('health-start-interval'), Retries: has('health-retries') ? num('health-retries') : 0,
  };
  const haveHealth = !!hc.Test || !!hc.Interval || !!hc.Timeout || !!hc.StartPeriod || !!hc.StartInterval || !!hc.Retries;
  if (p.flags['no-healthcheck']) {
    if (haveHealth) throw parseErr('--no-healthcheck conflicts with --health-* options');
    o.healthcheck = { Test: ['NONE'] };
  } else if (haveHealth) {
    for (const [n, v] of [['interval', hc.Interval], ['timeout', hc.Timeout], ['start-period', hc.StartPeriod], ['start-interval', hc.StartInterval], ['retries', hc.Retries]] as const) {
      if (v < 0) throw parseErr(`--health-${n} cannot be negative`);
    }
    o.healthcheck = Object.fromEntries(Object.entries(hc).filter(([, v]) => v !== undefined && v !== 0)) as RunOptions['healthcheck'];
  }
  if (has('health-on-failure')) {
    const a = str('health-on-failure');
    if (!(HEALTH_ACTIONS as readonly string[]).includes(a)) throw invalid(`invalid on-failure action "${a}" for health check: supported actions are: none,kill,restart,stop`);
    o.healthOnFailure = a;
  }
  if (p.flags.tty) o.tty = true;
  if (p.flags.interactive) o.openStdin = true;
  // storage
  if (p.flags['read-only']) o.readOnly = true;
  const tmpfs: Record<string, string> = {};
  for (const t of list('tmpfs')) { const [d, opts] = parseTmpfs(t); tmpfs[d] = opts; }
  if (Object.keys(tmpfs).length) o.tmpfs = tmpfs;
  const mounts = [
    ...list('volume').map((v) => parseVolume(v, cwd)),
    ...list('mount').map((m) => flagVal('mount', m, (v) => parseMount(v, cwd))),
  ];
  if (mounts.length) o.mounts = mounts;
  if (has('shm-size')) o.shmSize = flagVal('shm-size', str('shm-size'), parseSize);
  // namespaces
  const nets = [...list('net'), ...list('network')];
  if (nets.length) o.network = nets[0]!;
  const aliases = [...list('net-alias'), ...list('network-alias')];
  const ipv4 = str('ip'), ipv6 = str('ip6'), mac = str('mac-address');
  if (ipv4 && isIP(ipv4) !== 4) throw parseErr(`invalid IPv4 address: ${ipv4}`);
  if (ipv6 && isIP(ipv6) !== 6) throw parseErr(`invalid IPv6 address: ${ipv6}`);
  if (mac && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) throw parseErr(`${mac} is not a valid mac address`);
  if (nets.length > 1 && (ipv4 || ipv6 || aliases.length || mac)) {
    throw parseErr('conflicting options: cannot specify both --ip, --ip6, --network-alias or --mac-address and multiple networks');
  }
  if (nets.length || aliases.length || ipv4 || ipv6 || mac || list('link').length) {
    o.networks = (nets.length ? nets : [undefined]).map((n, i) => ({
      network: n ?? '',
      ...(i === 0 && aliases.length ? { aliases } : {}),
      ...(i === 0 && ipv4 ? { ipv4 } : {}),
      ...(i === 0 && ipv6 ? { ipv6 } : {}),
      ...(i === 0 && mac ? { mac: mac.toLowerCase() } : {}),
    }));
    if (!nets.length) o.networks[0]!.network = '';
  }
  if (list('link').length) o.links = list('link');
  const publish: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const v of list('publish')) atParse(() => mergePortMaps(publish, parsePortSpec(v)));
  if (Object.keys(publish).length) o.publish = publish;
  if (p.flags['publish-all']) o.publishAll = true;
  const expose: string[] = [];
  for (const v of list('expose')) expose.push(...atParse(() => parseExpose(v)));
  if (expose.length) o.expose = [...new Set(expose)];
  for (const h of list('add-host')) flagVal('add-host', h, parseAddHost);
  if (list('add-host').length) o.extraHosts = list('add-host');
  for (const d of list('dns')) if (!isIP(d)) throw usage(cmdPath, `invalid argument "${d}" for "--dns" flag: ${d} is not an ip address${see}`);
  if (list('dns').length) o.dns = list('dns');
  if (list('dns-search').length) o.dnsSearch = list('dns-search');
  const dnsOpts = [...list('dns-opt'), ...list('dns-option')];
  if (dnsOpts.length) o.dnsOptions = dnsOpts;
  const pid = str('pid');
  if (pid && pid !== 'host' && !/^container:./.test(pid)) throw parseErr('--pid: invalid PID mode');
  if (pid) o.pid = pid;
  const uts = str('uts');
  if (uts && uts !== 'host') throw parseErr('--uts: invalid UTS mode');
  if (uts) o.uts = uts;
  const userns = str('userns');
  if (userns && userns !== 'host' && userns !== 'private' && userns !== 'keep-id') throw parseErr('--userns: invalid USER mode');
  if (userns) o.userns = userns;
  const cgroupns = str('cgroupns');
  if (cgroupns && cgroupns !== 'host' && cgroupns !== 'private') throw parseErr('--cgroupns: invalid CGROUP mode');
  if (cgroupns) o.cgroupns = cgroupns;
  const ipc = str('ipc');
  if (ipc && !['none', 'private', 'shareable', 'host'].includes(ipc) && !/^container:./.test(ipc)) throw invalid(`invalid IPC mode: ${ipc}`);
  if (ipc) o.ipc = ipc;
  if (has('cgroup-parent')) o.cgroupParent = str('cgroup-parent');
  // resources
  if (has('memory')) o.memory = flagVal('memory', str('memory'), parseSize);
  if (has('memory-swap')) o.memorySwap = flagVal('memory-swap', str('memory-swap'), parseMemorySwap);
  if (has('memory-reservation')) o.memoryReservation = flagVal('memory-reservation', str('memory-reservation'), parseSize);
  const swappiness = num('memory-swappiness');
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) throw parseErr(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  if (swappiness !== -1) o.memorySwappiness = swappiness;
  if (p.flags['oom-kill-disable']) o.oomKillDisable = true;
  if (has('oom-score-adj')) o.oomScoreAdj = num('oom-score-adj');
  if (has('cpus')) o.nanoCpus = flagVal('cpus', str('cpus'), parseCpus);
  if (has('cpu-shares')) o.cpuShares = int64('cpu-shares');
  if (has('cpu-period')) o.cpuPeriod = int64('cpu-period');
  if (has('cpu-quota')) o.cpuQuota = int64('cpu-quota');
  if (has('cpu-rt-period')) o.cpuRtPeriod = int64('cpu-rt-period');
  if (has('cpu-rt-runtime')) o.cpuRtRuntime = int64('cpu-rt-runtime');
  if (has('cpuset-cpus')) o.cpusetCpus = str('cpuset-cpus');
  if (has('cpuset-mems')) o.cpusetMems = str('cpuset-mems');
  if (has('pids-limit')) o.pidsLimit = num('pids-limit');
  if (has('blkio-weight')) o.blkioWeight = int64('blkio-weight', true, 65535);
  const many = <T>(n: string, parse: (v: string) => T): T[] | undefined => {
    const vs = list(n).map((v) => flagVal(n, v, parse));
    return vs.length ? vs : undefined;
  };
  const assign = <K extends keyof RunOptions>(k: K, v: RunOptions[K] | undefined) => { if (v !== undefined) o[k] = v; };
  assign('blkioWeightDevice', many('blkio-weight-device', parseWeightDevice));
  assign('deviceReadBps', many('device-read-bps', parseThrottleBps));
  assign('deviceWriteBps', many('device-write-bps', parseThrottleBps));
  assign('deviceReadIops', many('device-read-iops', parseThrottleIops));
  assign('deviceWriteIops', many('device-write-iops', parseThrottleIops));
  const ulimits = new Map<string, Ulimit>();
  for (const u of many('ulimit', parseUlimit) ?? []) { ulimits.delete(u.name); ulimits.set(u.name, u); }
  if (ulimits.size) o.ulimits = [...ulimits.values()];
  // security
  if (p.flags.privileged) o.privileged = true;
  if (list('cap-add').length) o.capAdd = list('cap-add');
  if (list('cap-drop').length) o.capDrop = list('cap-drop');
  if (list('security-opt').length) o.securityOpt = list('security-opt').map((s) => atParse(() => parseSecurityOpt(s, readFile)));
  if (list('device').length) o.devices = list('device').map((d) => atParse(() => parseDevice(d)));
  if (list('group-add').length) o.groupAdd = list('group-add');
  const sysctls: Record<string, string> = {};
  for (const s of list('sysctl')) { const [k, v] = flagVal('sysctl', s, parseSysctl); sysctls[k] = v; }
  if (Object.keys(sysctls).length) o.sysctls = sysctls;

  // CLI-only
  const attach = list('attach').map((a) => flagVal('attach', a, (v) => {
    const s = v.toLowerCase();
    if (!['stdin', 'stdout', 'stderr'].includes(s)) throw new Error('valid streams are STDIN, STDOUT and STDERR');
    return s;
  }));
  const restart = str('restart');
  let policy: RestartPolicy;
  try { policy = parseRestartPolicy(restart); } catch (e) { throw parseErr((e as Error).message); }
  if (p.flags.rm && policy.Name !== 'no' && policy.Name !== '') throw parseErr('Conflicting options: --restart and --rm');
  validateRestartPolicy(policy); // the daemon's check (kind 'invalid')
  const logOpts: RunCliOptions['logOpts'] = {};
  for (const l of list('log-opt')) {
    const i = l.indexOf('=');
    const k = i < 0 ? l : l.slice(0, i);
    const v = i < 0 ? '' : l.slice(i + 1);
    if (k === 'max-size') {
      let n: number;
      try { n = decimalSize(v); } catch (e) { throw invalid((e as Error).message); }
      if (n <= 0) throw invalid('max-size must be a positive number');
      logOpts.maxSize = n;
    } else if (k === 'max-file') {
      if (!/^[+-]?\d+$/.test(v)) throw invalid(`strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
      if (Number(v) < 1) throw invalid('max-file cannot be less than 1');
      logOpts.maxFile = Number(v);
    } else throw invalid(`unknown log opt '${k}' for json-file log driver`);
  }
  const pull = str('pull');
  if (!['always', 'missing', 'never'].includes(pull)) {
    throw parseErr(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }
  const detach = command === 'run' && (p.flags.detach as boolean);
  if (detach && attach.length) throw parseErr('Conflicting options: -a and -d');
  const detachKeys = command === 'run' && has('detach-keys') ? str('detach-keys') : undefined;
  if (detachKeys !== undefined && (detachKeys === '' || !detachKeys.split(',').every((k) => DETACH_KEY.test(k)))) {
    throw invalid(`Invalid detach keys (${detachKeys}) provided`);
  }
  const name = has('name') ? str('name') : undefined;
  if (name !== undefined && name !== '' && !NAME.test(name)) {
    throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const cli: RunCliOptions = {
    detach,
    interactive: p.flags.interactive as boolean,
    tty: p.flags.tty as boolean,
    rm: p.flags.rm as boolean,
    pull: pull as PullPolicy,
    quiet: p.flags.quiet as boolean,
    sigProxy: command === 'run' ? (p.flags['sig-proxy'] as boolean) : true,
    attach,
    restart,
    logOpts,
    volumesFrom: list('volumes-from'),
    image: image!,
    args,
  };
  if (name) cli.name = name;
  if (has('platform') && str('platform')) cli.platform = str('platform');
  if (has('cidfile') && str('cidfile')) cli.cidfile = str('cidfile');
  if (detachKeys !== undefined) cli.detachKeys = detachKeys;
  return { kind: 'run', options: o, cli };
}

/** Go's os.Open error text (`open /x: no such file or directory`). */
function usageFs(e: unknown, path: string): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied'
    : code === 'EISDIR' ? 'is a directory' : (e as Error)?.message ?? String(e);
  return new Error(`open ${path}: ${why}`);
}
