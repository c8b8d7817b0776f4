/** `berth container COMMAND`: the container management commands under one name. */
import { io, printErr, runEngineCommand, type CommandSpec } from './common.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { settle } from '../../engine/index.js';

type Sub = (argv: string[], name: string) => Promise<number>;

const simple = () => import('./simple.js');
const SUBS: Record<string, () => Promise<Sub>> = {
  attach: async () => (await import('./attach.js')).run,
  commit: async () => (await import('./commit.js')).run,
  cp: async () => (await import('./cp.js')).run,
  create: async () => (a) => (import('./run.js')).then((m) => m.createCommand(a)),
  diff: async () => (await import('./diff.js')).run,
  exec: async () => (await import('./exec.js')).run,
  export: async () => (await import('./export.js')).run,
  inspect: async () => (a, n) => import('./inspect.js').then((m) => m.run(a, n, 'container')),
  kill: async () => (await simple()).kill,
  logs: async () => (await import('./logs.js')).run,
  ls: async () => (await import('./ps.js')).run,
  list: async () => (await import('./ps.js')).run,
  ps: async () => (await import('./ps.js')).run,
  pause: async () => (await simple()).pause,
  port: async () => (await import('./port.js')).run,
  prune: async () => (await import('./prune.js')).run,
  rename: async () => (await simple()).rename,
  restart: async () => (await simple()).restart,
  rm: async () => (await simple()).rm,
  remove: async () => (await simple()).rm,
  run: async () => (a) => (import('./run.js')).then((m) => m.runCommand(a)),
  start: async () => (await import('./start.js')).run,
  stats: async () => (await import('./stats.js')).run,
  stop: async () => (await simple()).stop,
  top: async () => (await import('./top.js')).run,
  unpause: async () => (await simple()).unpause,
  update: async () => (await import('./update.js')).run,
  wait: async () => (await simple()).wait,
  cleanup: async () => cleanup,
};

const HELP = `Usage:  berth container COMMAND

Manage containers

Commands:
${Object.keys(SUBS).filter((s) => s !== 'cleanup').map((s) => `  ${s}`).join('\n')}

Run 'berth container COMMAND --help' for more information on a command.
`;

/** Hidden: the monitor's exit command — record the exit, tear down, remove `--rm` containers. */
const cleanupSpec: CommandSpec = { name: 'container cleanup', usage: 'berth container cleanup CONTAINER', description: 'Finish a container after its exit (run by its monitor)', args: [1, 1], flags: [] };
function cleanup(argv: string[]): Promise<number> {
  return runEngineCommand(cleanupSpec, argv, async (p, core) => {
    // the data root may be gone (a removed test root): never create a store just to clean up
    if (!existsSync(join(core.options.root, 'engine.db'))) return 0;
    await settle(core, p.args[0]!, undefined, { restarter: true }); // and restarts it, by its policy
  });
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') { io.out.write(HELP); return sub ? 0 : 1; }
  const load = SUBS[sub];
  if (!load) { printErr(`berth container: '${sub}' is not a berth container command.\nSee 'berth container --help'`); return 1; }
  return (await load())(rest, `container ${sub}`);
}
