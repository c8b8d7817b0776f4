/** `berth update [OPTIONS] CONTAINER [CONTAINER...]`: Docker's flags, messages and exit codes. */
import { usage } from '../../lib/index.js';
import { checkUpdateRequest, parseRestartPolicy, updateContainer, type UpdateRequest } from '../../engine/index.js';
import { flagError, parseCpus, parseMemorySwap, parseSize } from '../../engine/spec/index.js';
import type { FlagSpec, ParsedFlags } from '../flags.js';
import { eachArg, print, printErr, report, runEngineCommand, type CommandSpec } from './common.js';

const FLAGS: FlagSpec[] = [
  { name: 'blkio-weight', type: 'string', metavar: 'uint16', help: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
  { name: 'cpu-period', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-rt-period', type: 'int', help: 'Limit the CPU real-time period in microseconds' },
  { name: 'cpu-rt-runtime', type: 'int', help: 'Limit the CPU real-time runtime in microseconds' },
  { name: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'string', metavar: 'decimal', help: 'Number of CPUs' },
  { name: 'cpuset-cpus', type: 'string', help: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', help: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'kernel-memory', type: 'string', metavar: 'bytes' }, // hidden, deprecated: accepted and ignored
  { name: 'memory', short: 'm', type: 'string', metavar: 'bytes', help: 'Memory limit' },
  { name: 'memory-reservation', type: 'string', metavar: 'bytes', help: 'Memory soft limit' },
  { name: 'memory-swap', type: 'string', metavar: 'bytes', help: "Swap limit equal to memory plus swap: -1 to enable unlimited swap" },
  { name: 'pids-limit', type: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'restart', type: 'string', help: 'Restart policy to apply when a container exits' },
];

const spec = (name: string): CommandSpec => ({
  name, usage: `berth ${name} [OPTIONS] CONTAINER [CONTAINER...]`,
  description: 'Update configuration of one or more containers', flags: FLAGS, args: [1, -1],
});

/** The request from the flags given; flag value errors as pflag words them (exit 125). */
export function updateRequest(p: ParsedFlags, name: string): UpdateRequest {
  const see = `\nSee 'berth ${name} --help'.`;
  const has = (n: string) => p.set.has(n);
  const val = <T>(n: string, short: string | undefined, parse: (v: string) => T): T => {
    const v = String(p.flags[n]);
    try { return parse(v); } catch (e) {
      throw usage(`berth ${name}`, flagError(short ? `-${short}, --${n}` : `--${n}`, v, e).message + see);
    }
  };
  const num = (n: string) => p.flags[n] as number;
  const req: UpdateRequest = {};
  if (has('memory')) req.memory = val('memory', 'm', parseSize);
  if (has('memory-swap')) req.memorySwap = val('memory-swap', undefined, parseMemorySwap);
  if (has('memory-reservation')) req.memoryReservation = val('memory-reservation', undefined, parseSize);
  if (has('kernel-memory')) req.kernelMemory = val('kernel-memory', undefined, parseSize);
  if (has('cpus')) req.nanoCpus = val('cpus', undefined, parseCpus);
  if (has('cpu-shares')) req.cpuShares = num('cpu-shares');
  if (has('cpu-period')) req.cpuPeriod = num('cpu-period');
  if (has('cpu-quota')) req.cpuQuota = num('cpu-quota');
  if (has('cpu-rt-period')) req.cpuRtPeriod = num('cpu-rt-period');
  if (has('cpu-rt-runtime')) req.cpuRtRuntime = num('cpu-rt-runtime');
  if (has('cpuset-cpus')) req.cpusetCpus = String(p.flags['cpuset-cpus']);
  if (has('cpuset-mems')) req.cpusetMems = String(p.flags['cpuset-mems']);
  if (has('pids-limit')) req.pidsLimit = num('pids-limit');
  if (has('blkio-weight')) {
    req.blkioWeight = val('blkio-weight', undefined, (v) => {
      if (!/^\+?\d+$/.test(v)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
      if (Number(v) > 65535) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(v)}: value out of range`);
      return Number(v);
    });
  }
  if (has('restart')) req.restartPolicy = parseRestartPolicy(String(p.flags.restart)); // its errors: the CLI's (exit 1)
  return req;
}

export function run(argv: string[], name = 'update'): Promise<number> {
  return runEngineCommand(spec(name), argv, async (p, core) => {
    if (p.set.size === 0 || [...p.set].every((f) => f === 'help')) {
      printErr('you must provide one or more flags when using this command');
      return 1;
    }
    const req = updateRequest(p, name);
    try {
      for (const w of checkUpdateRequest(req)) printErr(w); // before any container, as the daemon
    } catch (e) {
      return report(e);
    }
    return eachArg(p.args, async (ref) => {
      await updateContainer(core, ref, req);
      print(ref);
    });
  });
}
