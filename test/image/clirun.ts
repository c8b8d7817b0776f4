/** Runs one image command module in a child process for the CLI tests: clirun.js <module> [args…]. */
const [mod, ...args] = process.argv.slice(2);
const m = (await import(`../../src/cli/image/${mod}.js`)) as { run(argv: string[]): Promise<number> };
process.exitCode = await m.run(args);
