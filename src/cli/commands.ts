/** berth: Docker's command line. Each command lives in its own module, loaded on demand. */
import { BerthError, debugStacks, describeError, mark } from '../lib/index.js';
import { io } from './context.js';
type Runner = (argv: string[]) => Promise<number>;
type Loader = () => Promise<{ run: Runner }>;

export const VERSION = '0.1.0';

const img = () => import('./image/index.js');
const ctr = (m: () => Promise<Record<string, unknown>>, fn: string): Loader => async () => ({ run: (await m())[fn] as Runner });
const runMod = () => import('./container/run.js');
const simple = () => import('./container/simple.js');
const sys = () => import('./system/index.js');
const COMMANDS: Record<string, Loader> = {
  run: ctr(runMod, 'runCommand'),
  create: ctr(runMod, 'createCommand'),
  start: ctr(() => import('./container/start.js'), 'run'),
  stop: ctr(simple, 'stop'),
  kill: ctr(simple, 'kill'),
  rm: ctr(simple, 'rm'),
  wait: ctr(simple, 'wait'),
  restart: ctr(simple, 'restart'),
  pause: ctr(simple, 'pause'),
  unpause: ctr(simple, 'unpause'),
  update: ctr(() => import('./container/update.js'), 'run'),
  rename: ctr(simple, 'rename'),
  ps: ctr(() => import('./container/ps.js'), 'run'),
  logs: ctr(() => import('./container/logs.js'), 'run'),
  exec: ctr(() => import('./container/exec.js'), 'run'),
  attach: ctr(() => import('./container/attach.js'), 'run'),
  inspect: ctr(() => import('./container/inspect.js'), 'run'),
  container: ctr(() => import('./container/container.js'), 'run'),
  stats: ctr(() => import('./container/stats.js'), 'run'),
  top: ctr(() => import('./container/top.js'), 'run'),
  cp: ctr(() => import('./container/cp.js'), 'run'),
  diff: ctr(() => import('./container/diff.js'), 'run'),
  commit: ctr(() => import('./container/commit.js'), 'run'),
  export: ctr(() => import('./container/export.js'), 'run'),
  port: ctr(() => import('./container/port.js'), 'run'),
  volume: ctr(sys, 'volume'),
  network: ctr(sys, 'network'),
  system: ctr(sys, 'system'),
  info: ctr(sys, 'info'),
  version: ctr(sys, 'version'),
  events: ctr(sys, 'events'),
  bench: ctr(() => import('./system/bench.js'), 'run'),
  serve: ctr(() => import('./system/serve.js'), 'run'),
  pull: async () => (await img()).pull,
  push: async () => (await img()).push,
  images: async () => (await img()).images,
  image: async () => (await img()).image,
  tag: async () => (await img()).tag,
  rmi: async () => (await img()).rmi,
  save: async () => (await img()).save,
  load: async () => (await img()).load,
  login: async () => (await img()).login,
  logout: async () => (await img()).logout,
  history: async () => (await img()).history,
  import: async () => (await img()).import_,
  build: ctr(() => import('./build.js'), 'run'), builder: ctr(() => import('./build.js'), 'builder'),
  worker: ctr(() => import('./worker.js'), 'run'),
};

const HELP = `Usage:  berth [OPTIONS] COMMAND

A container engine with Docker's command line.

Global options:
  --data-root string   Data root (default /var/lib/berth; env BERTH_ROOT)
  --run-root string    Run root (default /run/berth; env BERTH_RUN_ROOT)
  --config string      Config file (default /etc/berth/config.json; env BERTH_CONFIG)
  -D, --debug          Show the stack of an unexpected error (env BERTH_DEBUG=1)

Commands:
${Object.keys(COMMANDS).sort().map((c) => `  ${c}`).join('\n')}

Run 'berth COMMAND --help' for more information on a command.
`;

/** Global options before the command: they set the environment the engine reads. */
export const GLOBAL_FLAGS: Readonly<Record<string, string>> = { '--data-root': 'BERTH_ROOT', '--run-root': 'BERTH_RUN_ROOT', '--config': 'BERTH_CONFIG' };

function takeGlobals(argv: string[]): string[] | number {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--help' && argv[i] !== '--version' && argv[i] !== '-h' && argv[i] !== '-v') {
    if (argv[i] === '-D' || argv[i] === '--debug') { process.env.BERTH_DEBUG = '1'; i++; continue; }
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const env = GLOBAL_FLAGS[flag];
    if (!env) {
      io.err.write(`unknown flag: ${flag}\nSee 'berth --help'.\n`);
      return 125;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) {
      io.err.write(`flag needs an argument: ${flag}\nSee 'berth --help'.\n`);
      return 125;
    }
    process.env[env] = value;
    i++;
  }
  return argv.slice(i);
}

let current: string | undefined;

/** The command this process runs (for the top-level guard's message). */
export function currentCommand(): string | undefined {
  return current;
}

export async function main(all: string[]): Promise<number> {
  mark('main');
  const argv = takeGlobals(all);
  if (typeof argv === 'number') return argv;
  const [cmd, ...rest] = argv;
  current = cmd;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { io.out.write(HELP); return 0; }
  if (cmd === '--version' || cmd === '-v') { io.out.write(`berth version ${VERSION}\n`); return 0; }
  // internal: the rootless engine's storage process (engine/rootless/storage.ts), not a user command
  if (cmd === '__rootless-storage') return (await import('../engine/index.js')).rootlessStorageMain();
  const load = COMMANDS[cmd];
  if (!load) {
    io.err.write(`berth: '${cmd}' is not a berth command.\nSee 'berth --help'\n`);
    return 125;
  }
  try {
    return await (await load()).run(rest);
  } catch (e) {
    io.err.write(unexpected(cmd, e));
    return 125;
  }
}

/**
 * The message for an error no command caught: `berth: <command>: <cause>` (a BerthError names its
 * operation and object itself), one line; with --debug / BERTH_DEBUG=1 the stacks follow.
 */
export function unexpected(cmd: string | undefined, e: unknown): string {
  const msg = describeError(e);
  const line = e instanceof BerthError || !cmd ? `berth: ${msg}\n` : `berth: ${cmd}: ${msg}\n`;
  return line + debugStacks(e);
}

