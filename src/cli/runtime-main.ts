/** berth-runtime: an OCI runtime with runc's command line. */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BerthError, debugStacks, describeError, mark, usage } from '../lib/index.js';
import { parseFlags, str, bool, list, int, type FlagSpec, type Parsed } from './runtime-args.js';
import * as rt from '../runtime/index.js';
import { exampleSpec, runtimeFeatures, type LinuxResources } from '../oci/index.js';
import { hostCgroupVersion } from '../cgroups/index.js';
import { printTable, runPs } from './runtime-output.js';

const VERSION = '0.1.0';
const GLOBAL: FlagSpec[] = [
  { names: ['root'], value: true }, { names: ['log'], value: true }, { names: ['log-format'], value: true },
  { names: ['debug'] }, { names: ['systemd-cgroup'] }, { names: ['rootless'], value: true }, { names: ['criu'], value: true },
  { names: ['version', 'v'] }, { names: ['help', 'h'] },
];
const CREATE: FlagSpec[] = [
  { names: ['bundle', 'b'], value: true }, { names: ['pid-file'], value: true }, { names: ['console-socket'], value: true },
  { names: ['no-pivot'] }, { names: ['no-new-keyring'] }, { names: ['preserve-fds'], value: true },
];
const EXEC: FlagSpec[] = [
  { names: ['console-socket'], value: true }, { names: ['cwd'], value: true }, { names: ['env', 'e'], value: true, repeat: true },
  { names: ['tty', 't'] }, { names: ['user', 'u'], value: true }, { names: ['additional-gids', 'g'], value: true, repeat: true },
  { names: ['process', 'p'], value: true }, { names: ['detach', 'd'] }, { names: ['pid-file'], value: true },
  { names: ['process-label'], value: true }, { names: ['apparmor'], value: true }, { names: ['no-new-privs'] },
  { names: ['cap', 'c'], value: true, repeat: true }, { names: ['preserve-fds'], value: true }, { names: ['cgroup'], value: true, repeat: true },
  { names: ['ignore-paused'] },
];
const UPDATE_FIELDS: Array<[string, (r: LinuxResources, v: string) => void]> = [
  ['memory', (r, v) => { (r.memory ??= {}).limit = bytes(v); }],
  ['memory-swap', (r, v) => { (r.memory ??= {}).swap = bytes(v); }],
  ['memory-reservation', (r, v) => { (r.memory ??= {}).reservation = bytes(v); }],
  ['kernel-memory', (r, v) => { (r.memory ??= {}).kernel = bytes(v); }],
  ['kernel-memory-tcp', (r, v) => { (r.memory ??= {}).kernelTCP = bytes(v); }],
  ['cpu-shares', (r, v) => { (r.cpu ??= {}).shares = num(v); }],
  ['cpu-period', (r, v) => { (r.cpu ??= {}).period = num(v); }],
  ['cpu-quota', (r, v) => { (r.cpu ??= {}).quota = num(v); }],
  ['cpu-rt-period', (r, v) => { (r.cpu ??= {}).realtimePeriod = num(v); }],
  ['cpu-rt-runtime', (r, v) => { (r.cpu ??= {}).realtimeRuntime = num(v); }],
  ['cpuset-cpus', (r, v) => { (r.cpu ??= {}).cpus = v; }],
  ['cpuset-mems', (r, v) => { (r.cpu ??= {}).mems = v; }],
  ['pids-limit', (r, v) => { r.pids = { limit: num(v) }; }],
  ['blkio-weight', (r, v) => { (r.blockIO ??= {}).weight = num(v); }],
];

function num(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw usage('update', `update: invalid number ${JSON.stringify(v)}`);
  return n;
}
function bytes(v: string): number {
  const m = /^(-?\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(v.trim());
  if (!m) throw usage('update', `update: invalid size ${JSON.stringify(v)}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase() as '']!;
  return Math.round(Number(m[1]) * mult);
}

interface Ctx { opts: rt.RuntimeOptions; g: Parsed }

function one(p: Parsed, cmd: string, what = 'container id'): string {
  if (p.args.length < 1) throw usage(cmd, `${cmd}: "${cmd}" requires exactly 1 argument (${what})`);
  return p.args[0]!;
}

const COMMANDS: Record<string, (ctx: Ctx, argv: string[]) => Promise<number>> = {
  async create(ctx, argv) {
    const p = parseFlags('create', argv, CREATE);
    await rt.create(ctx.opts, { id: one(p, 'create'), bundle: str(p, 'bundle') ?? '.', pidFile: str(p, 'pid-file'), consoleSocket: str(p, 'console-socket'), noPivot: bool(p, 'no-pivot'), noNewKeyring: bool(p, 'no-new-keyring'), preserveFds: int(p, 'preserve-fds', 'create') });
    return 0;
  },
  async run(ctx, argv) {
    const p = parseFlags('run', argv, [...CREATE, { names: ['detach', 'd'] }, { names: ['keep'] }, { names: ['no-subreaper'] }]);
    return rt.run(ctx.opts, { id: one(p, 'run'), bundle: str(p, 'bundle') ?? '.', pidFile: str(p, 'pid-file'), consoleSocket: str(p, 'console-socket'), noPivot: bool(p, 'no-pivot'), noNewKeyring: bool(p, 'no-new-keyring'), preserveFds: int(p, 'preserve-fds', 'run'), detach: bool(p, 'detach') });
  },
  async start(ctx, argv) { await rt.start(ctx.opts, one(parseFlags('start', argv, []), 'start')); return 0; },
  async state(ctx, argv) { process.stdout.write(JSON.stringify(rt.state(ctx.opts, one(parseFlags('state', argv, []), 'state')), null, '  ') + '\n'); return 0; },
  async kill(ctx, argv) {
    const p = parseFlags('kill', argv, [{ names: ['all', 'a'] }]);
    await rt.kill(ctx.opts, one(p, 'kill'), p.args[1], bool(p, 'all'));
    return 0;
  },
  async delete(ctx, argv) {
    const p = parseFlags('delete', argv, [{ names: ['force', 'f'] }]);
    if (!p.args.length) throw usage('delete', 'delete: "delete" requires at least 1 argument (container id)');
    for (const id of p.args) await rt.del(ctx.opts, id, bool(p, 'force'));
    return 0;
  },
  async exec(ctx, argv) {
    const p = parseFlags('exec', argv, EXEC);
    const id = one(p, 'exec');
    const gids = list(p, 'additional-gids').flatMap((s) => s.split(',')).map((s) => Number(s));
    return rt.exec(ctx.opts, {
      id, args: p.args.slice(1), processFile: str(p, 'process'), tty: bool(p, 'tty'), detach: bool(p, 'detach'),
      consoleSocket: str(p, 'console-socket'), pidFile: str(p, 'pid-file'), env: list(p, 'env'), cwd: str(p, 'cwd'),
      user: str(p, 'user'), additionalGids: gids, caps: list(p, 'cap'), noNewPrivs: bool(p, 'no-new-privs'),
      apparmor: str(p, 'apparmor'), processLabel: str(p, 'process-label'), preserveFds: int(p, 'preserve-fds', 'exec'),
    });
  },
  async list(ctx, argv) {
    const p = parseFlags('list', argv, [{ names: ['format', 'f'], value: true }, { names: ['quiet', 'q'] }]);
    const entries = rt.list(ctx.opts);
    if (bool(p, 'quiet')) { for (const e of entries) process.stdout.write(e.id + '\n'); return 0; }
    if (str(p, 'format') === 'json') { process.stdout.write(JSON.stringify(entries.map((e) => ({ ociVersion: rt.OCI_VERSION, ...e, rootfs: undefined })) ) + '\n'); return 0; }
    printTable(['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], entries.map((e) => [e.id, String(e.pid), e.status, e.bundle, e.created, e.owner]));
    return 0;
  },
  async ps(ctx, argv) {
    const p = parseFlags('ps', argv, [{ names: ['format', 'f'], value: true }]);
    const pids = rt.pids(ctx.opts, one(p, 'ps'));
    if (str(p, 'format') === 'json') { process.stdout.write(JSON.stringify(pids) + '\n'); return 0; }
    return runPs(pids, p.args.slice(1));
  },
  async pause(ctx, argv) { for (const id of parseFlags('pause', argv, []).args) await rt.pause(ctx.opts, id); return 0; },
  async resume(ctx, argv) { for (const id of parseFlags('resume', argv, []).args) await rt.resume(ctx.opts, id); return 0; },
  async events(ctx, argv) {
    const p = parseFlags('events', argv, [{ names: ['stats'] }, { names: ['interval'], value: true }]);
    const id = one(p, 'events');
    if (bool(p, 'stats')) { process.stdout.write(JSON.stringify(rt.statsEvent(ctx.opts, id)) + '\n'); return 0; }
    const iv = str(p, 'interval') ?? '5s';
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(iv);
    if (!m) throw usage('events', `events: invalid --interval ${JSON.stringify(iv)}`);
    const ms = Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 }[m[2] ?? 's' as 's'] ?? 1000);
    await rt.follow(ctx.opts, id, ms, (e) => process.stdout.write(JSON.stringify(e) + '\n'));
    return 0;
  },
  async update(ctx, argv) {
    const p = parseFlags('update', argv, [{ names: ['resources', 'r'], value: true }, ...UPDATE_FIELDS.map(([n]) => ({ names: [n], value: true })), { names: ['l3-cache-schema'], value: true }, { names: ['mem-bw-schema'], value: true }]);
    const id = one(p, 'update');
    const r = str(p, 'resources');
    const res: LinuxResources = r ? rt.readResources(r) : {};
    for (const [n, set] of UPDATE_FIELDS) { const v = str(p, n); if (v !== undefined) set(res, v); }
    await rt.update(ctx.opts, id, res);
    return 0;
  },
  async features() { process.stdout.write(JSON.stringify(runtimeFeatures(), null, '    ') + '\n'); return 0; },
  async spec(_ctx, argv) {
    const p = parseFlags('spec', argv, [{ names: ['bundle', 'b'], value: true }, { names: ['rootless'] }]);
    const file = join(resolve(str(p, 'bundle') ?? '.'), 'config.json');
    if (existsSync(file)) throw new BerthError({ kind: 'conflict', op: 'spec', path: file, message: `spec: File ${file} exists. Remove it first` });
    // runc's spec adds a cgroup namespace on a cgroup v2 host
    writeFileSync(file, JSON.stringify(exampleSpec({ rootless: bool(p, 'rootless'), cgroupns: hostCgroupVersion() === 2 }), null, '\t'));
    return 0;
  },
  async checkpoint() { throw new BerthError({ kind: 'usage', op: 'checkpoint', message: 'checkpoint: not supported by berth-runtime (no CRIU integration)' }); },
  async restore() { throw new BerthError({ kind: 'usage', op: 'restore', message: 'restore: not supported by berth-runtime (no CRIU integration)' }); },
};

const HELP = `berth-runtime ${VERSION}: an OCI runtime (runtime-spec ${rt.OCI_VERSION}) with runc's command line

Usage: berth-runtime [global options] command [command options] [arguments...]

Commands: create, start, run, state, kill, delete, exec, list, ps, pause, resume, events, update, features, spec

Global options:
  --root DIR         state directory (default ${rt.DEFAULT_ROOT})
  --log FILE         log file (default: stderr)
  --log-format FMT   text or json
  --debug            debug logging
  --systemd-cgroup   (not supported: an error where it would matter)
`;

function logger(g: Parsed) {
  const file = str(g, 'log');
  const json = str(g, 'log-format') === 'json';
  const debug = bool(g, 'debug');
  return (level: 'debug' | 'info' | 'warning' | 'error', msg: string) => {
    if (level === 'debug' && !debug) return;
    const time = new Date().toISOString();
    const line = json ? JSON.stringify({ level, msg, time }) + '\n' : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    if (file) { try { appendFileSync(file, line); return; } catch { /* fall through to stderr */ } }
    if (level !== 'error') process.stderr.write(line);
  };
}

export async function main(argv: string[]): Promise<number> {
  mark('main');
  let g: Parsed;
  try { g = parseFlags('berth-runtime', argv, GLOBAL); } catch (e) { process.stderr.write(`berth-runtime: ${(e as Error).message}\n`); return 1; }
  if (bool(g, 'version')) { process.stdout.write(`berth-runtime version ${VERSION}\nspec: ${rt.OCI_VERSION}\n`); return 0; }
  const [cmd, ...rest] = g.args;
  if (!cmd || bool(g, 'help') || cmd === 'help') { process.stdout.write(HELP); return cmd ? 0 : (bool(g, 'help') ? 0 : 1); }
  const log = logger(g);
  const opts: rt.RuntimeOptions = { root: resolve(str(g, 'root') ?? rt.DEFAULT_ROOT), log, systemdCgroup: bool(g, 'systemd-cgroup') };
  const fn = COMMANDS[cmd];
  try {
    if (!fn) throw usage(cmd, `No help topic for '${cmd}'`);
    return await fn({ opts, g }, rest);
  } catch (e) {
    const msg = describeError(e);
    log('error', msg);
    process.stderr.write(`berth-runtime: ${msg}\n`);
    process.stderr.write(debugStacks(e, bool(g, 'debug')));
    return 1;
  }
}

// The top-level guard: whatever escapes a verb ends it with one line (and the stack with --debug).
let failed = false;
const fatal = (e: unknown) => {
  if (failed) return;
  failed = true;
  process.stderr.write(`berth-runtime: ${describeError(e)}\n`);
  process.stderr.write(debugStacks(e, process.argv.includes('--debug')));
  process.exit(1);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, fatal);
