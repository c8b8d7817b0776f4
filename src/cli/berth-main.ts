/** The `berth` program (a process per command): see commands.ts. */
import { main } from './commands.js';

// A command whose promise never settles must not look like a success.
process.exitCode = 125;
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
