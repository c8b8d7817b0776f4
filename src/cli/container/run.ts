/** `berth run` and `berth create`: Docker's flags, pull policy, attach, exit codes, `--rm`. */
import { existsSync, writeFileSync } from 'node:fs';
import { BerthError, debugStacks, describeError, mark } from '../../lib/index.js';
import {
  createContainer, exitCodeForStartError, removeContainer, startContainer, type EngineCore,
} from '../../engine/index.js';
import { parseRunArgs, type RunCliOptions, type RunCommand } from './run-flags.js';
import { attachUntilExit, settleAttached, wireTerminal } from './attach-io.js';
import { closeEngine, core, io, print, printErr } from './common.js';
import { ProgressPrinter } from '../image/progress.js';

function daemonError(command: RunCommand, e: unknown): void {
  const msg = describeError(e);
  // (a message that names the program already, as runconfig's checks do, is not prefixed again)
  if (e instanceof BerthError && e.kind === 'usage') printErr(/^berth: /.test(msg) ? msg : `berth: ${msg}`);
  else printErr(`berth: Error response from daemon: ${msg}\n\nRun 'berth ${command} --help' for more information`);
  io.err.write(debugStacks(e));
}

async function create(c: EngineCore, command: RunCommand, cli: RunCliOptions, options: Parameters<typeof createContainer>[1]['options']) {
  if (cli.cidfile && existsSync(cli.cidfile)) {
    throw new BerthError({ kind: 'usage', op: 'cidfile', message: `Container ID file found, make sure the other container isn't running or delete ${cli.cidfile}` });
  }
  const attachStd = (s: string) => (cli.attach.length ? cli.attach.includes(s) : s !== 'stdin' || cli.interactive);
  const rec = await createContainer(c, {
    image: cli.image, options, name: cli.name, pull: cli.pull, platform: cli.platform, autoRemove: cli.rm,
    logMaxSize: cli.logOpts.maxSize, logMaxFile: cli.logOpts.maxFile, volumesFrom: cli.volumesFrom, restart: cli.restart,
    attachStdin: !cli.detach && attachStd('stdin'), attachStdout: !cli.detach && attachStd('stdout'), attachStderr: !cli.detach && attachStd('stderr'),
    stdinOnce: cli.interactive && !cli.detach,
    onWarning: (w) => printErr(`WARNING: ${w}`),
    onPull: cli.quiet ? undefined : (ref) => printErr(`Unable to find image '${ref}' locally`),
    onProgress: cli.quiet ? undefined : new ProgressPrinter(io.err).handle,
  });
  if (cli.cidfile) writeFileSync(cli.cidfile, rec.id, { flag: 'wx' });
  return rec;
}

export async function execute(command: RunCommand, argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseRunArgs(command, argv);
  } catch (e) {
    daemonError(command, e);
    // cobra's argument-count checks are not status errors in the docker CLI: exit 1
    return e instanceof BerthError && /requires at least 1 argument/.test(e.message) ? 1 : 125;
  }
  if (parsed.kind === 'help') { io.out.write(parsed.text); return 0; }
  const { options, cli } = parsed;
  if (cli.tty && io.out.isTTY && !options.consoleSize) options.consoleSize = [io.out.rows!, io.out.columns!];
  if (cli.tty && cli.interactive && !io.in.isTTY) {
    printErr('the input device is not a TTY');
    return 1;
  }
  const c = core();
  let id: string | undefined;
  try {
    const rec = await create(c, command, cli, options);
    id = rec.id;
    mark('created');
    if (command === 'create') { print(rec.id); return 0; }
    if (cli.detach) {
      await startContainer(c, rec.id);
      print(rec.id);
      return 0;
    }
    const stdin = cli.interactive && (cli.attach.length === 0 || cli.attach.includes('stdin'));
    const want = (s: string) => cli.attach.length === 0 || cli.attach.includes(s);
    const started = await startContainer(c, rec.id, { attach: { stdin, stdout: want('stdout'), stderr: want('stderr'), cleanup: true } });
    const conn = started.attach!;
    const wiring = wireTerminal(conn, { tty: cli.tty, stdin, detachKeys: cli.detachKeys, proxyPid: cli.sigProxy ? started.container.state.pid : undefined });
    let res;
    try {
      res = await attachUntilExit(conn, wiring);
    } finally {
      wiring.restore();
    }
    if (res.detached) return 0;
    const code = await settleAttached(c, rec.id, conn, res.exit, 125);
    mark('settled');
    return code;
  } catch (e) {
    daemonError(command, e);
    if (id && cli.rm) await removeContainer(c, id, { force: true, volumes: true }).catch(() => undefined);
    return e instanceof BerthError ? (exitCodeForStartError(e) === 128 ? 125 : exitCodeForStartError(e)) : 125;
  } finally {
    await closeEngine().catch(() => undefined);
  }
}

export const runCommand = (argv: string[]) => execute('run', argv);
export const createCommand = (argv: string[]) => execute('create', argv);
