#!/usr/bin/env node
// Build everything: the native helper (make), the TypeScript (tsc -> build/), and the
// start-up-optimised CLI bundles (esbuild -> dist/).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
const only = process.argv[2];

if (!only || only === 'native') run('make', ['-s', '-C', 'native']);
if (!only || only === 'gen') {
  for (const f of readdirSync(join(root, 'scripts'))) if (f.startsWith('gen-') && f.endsWith('.mjs')) run(process.execPath, [join('scripts', f)]);
}
if (!only || only === 'ts') run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
if (!only || only === 'bundle') {
  const esbuild = await import('esbuild');
  // dist/<name>.cjs is a small loader (scripts/loader.cjs) that runs dist/<name>-main.cjs through
  // a V8 code cache.
  const entries = [['src/cli/runtime-main.ts', 'dist/berth-runtime-main.cjs'], ['src/cli/berth-main.ts', 'dist/berth-main.cjs']];
  for (const [src, out] of entries) {
    if (!existsSync(join(root, src))) continue;
    // CommonJS + minified: Node starts a single CJS file markedly faster than an ESM graph.
    await esbuild.build({
      entryPoints: [join(root, src)], outfile: join(root, out), bundle: true, platform: 'node',
      format: 'cjs', target: 'node20', minify: true, sourcemap: false, logLevel: 'warning',
      define: { 'import.meta.url': '__importMetaUrl' },
      banner: { js: "#!/usr/bin/env node\nconst __importMetaUrl = require('url').pathToFileURL(__filename).href;" },
      external: ['better-sqlite3', 'koffi'],
    });
    chmodSync(join(root, out), 0o755);
    const loader = readFileSync(join(root, 'scripts/loader.cjs'), 'utf8').replaceAll('__BUNDLE__', basename(out));
    const front = join(root, out.replace(/-main\.cjs$/, '.cjs'));
    writeFileSync(front, loader);
    chmodSync(front, 0o755);
    rmSync(join(root, 'dist/.cache'), { recursive: true, force: true });
  }
  // dist/berth, dist/berth-runtime: the native front (native/client.c, one binary under two names):
  // berth hands commands to a running `berth worker`; both run Node with the arguments kept out of
  // Node's own command line. These are the package's bins.
  if (existsSync(join(root, 'native/build/berth'))) {
    for (const name of ['berth', 'berth-runtime']) {
      copyFileSync(join(root, 'native/build/berth'), join(root, 'dist', name));
      chmodSync(join(root, 'dist', name), 0o755);
    }
  }
}
