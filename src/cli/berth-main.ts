/** The `berth` program (a process per command): see commands.ts. */
import { currentCommand, main, unexpected } from './commands.js';

const argv = process.argv.slice(2);
// A command whose promise never settles must not look like a success.
process.exitCode = 125;
// The top-level guard: whatever escapes a command (an unhandled 'error' event, a stray rejection)
// ends it with one line naming the command and the cause, exit 125; --debug shows the stack.
let failed = false;
const fatal = (e: unknown) => {
  if (failed) return;
  failed = true;
  process.stderr.write(unexpected(currentCommand(), e));
  process.exit(125);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
main(argv).then((code) => { process.exitCode = code; }, fatal);
