/** `berth exec [-d] [-i] [-t] [-e] [-u] [-w] [--privileged] CONTAINER COMMAND [ARG...]` */
import { BerthError } from '../../lib/index.js';
import { execInContainer } from '../../engine/index.js';
import { bool, str, strs } from '../flags.js';
import { parseEnv, parseEnvFile } from '../../engine/spec/index.js';
import { readFileSync } from 'node:fs';
import { makeRaw } from './attach-io.js';
import { io, printErr, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'exec',
  usage: 'berth exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  args: [2, -1],
  stopAtFirstArg: true,
  flags: [
    { name: 'detach', short: 'd', type: 'bool', help: 'Detached mode: run command in the background' },
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
    { name: 'env', short: 'e', type: 'strings', help: 'Set environment variables' },
    { name: 'env-file', type: 'strings', help: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
    { name: 'privileged', type: 'bool', help: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', help: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
  ],
};

export async function run(argv: string[], name = 'exec'): Promise<number> {
  let code = 0;
  const status = await runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const [ref, ...cmd] = p.args;
    const tty = bool(p, 'tty');
    const interactive = bool(p, 'interactive');
    if (tty && interactive && !io.in.isTTY) { printErr('the input device is not a TTY'); return 1; }
    const lookup = (k: string) => process.env[k];
    const env = [
      ...strs(p, 'env-file').flatMap((f) => parseEnvFile(readFileSync(f, 'utf8'), f, lookup)),
      ...strs(p, 'env').map((e) => parseEnv(e, lookup)),
    ];
    const wd = str(p, 'workdir');
    if (wd && !wd.startsWith('/')) throw new BerthError({ kind: 'invalid', op: 'exec', message: `the working directory '${wd}' is invalid, it needs to be an absolute path` });
    const detach = bool(p, 'detach');
    const raw = tty && interactive && io.in.isTTY;
    if (raw) makeRaw();
    try {
      code = await execInContainer(core, ref!, {
        cmd, tty, detach, consoleSize: tty && io.out.isTTY ? [io.out.rows!, io.out.columns!] : undefined, env, user: str(p, 'user') || undefined, workdir: wd || undefined, privileged: bool(p, 'privileged'),
        stdio: detach ? ['ignore', 'ignore', 'ignore'] : [interactive ? 0 : 'ignore', 1, 2],
      });
    } catch (e) {
      if (e instanceof BerthError && (e.step === 'lookup' || e.step === 'exec')) {
        printErr(`OCI runtime exec failed: exec failed: unable to start container process: exec: "${cmd[0]}": ${e.code === 'ENOENT' ? 'executable file not found in $PATH' : e.message}: unknown`);
        code = e.code === 'ENOENT' ? 127 : 126;
        return code;
      }
      if (e instanceof BerthError && e.step === 'chdir') {
        // runc's words; Docker exits 126 for a process that could not be started
        printErr(`OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd (${JSON.stringify(wd)}) set in config.json failed: ${describeCodeText(e.code)}: unknown`);
        code = 126;
        return code;
      }
      throw e;
    } finally {
      if (raw) (io.in as NodeJS.ReadStream).setRawMode(false);
    }
    return code;
  });
  return status;
}

function describeCodeText(code: string | undefined): string {
  return code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTDIR' ? 'not a directory' : code === 'EACCES' ? 'permission denied' : (code ?? 'unknown error');
}
