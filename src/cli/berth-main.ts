/** berth: Docker's command line. Each command lives in its own module, loaded on demand. */
type Runner = (argv: string[]) => Promise<number>;
type Loader = () => Promise<{ run: Runner }>;

export const VERSION = '0.1.0';

const img = () => import('./image/index.js');
const COMMANDS: Record<string, Loader> = {
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
};

const HELP = `Usage:  berth [OPTIONS] COMMAND

A container engine with Docker's command line.

Commands:
${Object.keys(COMMANDS).sort().map((c) => `  ${c}`).join('\n')}

Run 'berth COMMAND --help' for more information on a command.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { process.stdout.write(HELP); return 0; }
  if (cmd === '--version' || cmd === '-v') { process.stdout.write(`berth version ${VERSION}\n`); return 0; }
  const load = COMMANDS[cmd];
  if (!load) {
    process.stderr.write(`berth: '${cmd}' is not a berth command.\nSee 'berth --help'\n`);
    return 125;
  }
  try {
    return await (await load()).run(rest);
  } catch (e) {
    process.stderr.write(`berth: ${(e as Error)?.message ?? String(e)}\n`);
    return 125;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
