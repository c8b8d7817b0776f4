#!/usr/bin/env node
'use strict';
// Start-up loader for the bundled CLIs: runs the bundle next to it through a V8 code cache, so a
// command does not re-compile the bundle's functions on every start (Node 20 has no built-in
// compile cache). The cache sits beside the bundle, is written only by the bundle's owner, and
// is used only if it is owned by that user and writable by nobody else; V8 rejects a cache that
// does not match the source or this Node (then it is rewritten).
// The native front (dist/berth, dist/berth-runtime) passes the command's arguments in the
// environment, never in Node's own argv (Node 20 parses `--env-file` even after the script name):
// move them back into process.argv, and out of the environment children inherit.
const env = process.env;
if (env.BERTH_ARGC !== undefined) {
  const argc = Number(env.BERTH_ARGC);
  const args = [];
  for (let i = 0; Number.isSafeInteger(argc) && i < argc; i++) args.push(env[`BERTH_ARG_${i}`] ?? '');
  for (const k of Object.keys(env)) if (k === 'BERTH_ARGC' || k.startsWith('BERTH_ARG_')) delete env[k];
  if (process.argv.length === 2) process.argv.push(...args);
}
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

const file = path.join(__dirname, '__BUNDLE__');
const cacheFile = path.join(__dirname, '.cache', `__BUNDLE__.${process.version}.v8`);
const src = fs.readFileSync(file, 'utf8');
let cached;
try {
  const st = fs.statSync(cacheFile);
  const own = fs.statSync(file).uid;
  if (st.uid === own && (st.mode & 0o022) === 0) cached = fs.readFileSync(cacheFile);
} catch { /* none yet */ }
const script = new vm.Script(Module.wrap(src.startsWith('#!') ? '//' + src.slice(2) : src), {
  filename: file, cachedData: cached, importModuleDynamically: vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const m = new Module(file, module);
m.filename = file;
m.paths = Module._nodeModulePaths(__dirname);
if (!cached || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      if (process.getuid && process.getuid() !== fs.statSync(file).uid) return;
      const data = script.createCachedData();
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true, mode: 0o755 });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, data, { mode: 0o644 });
      fs.renameSync(tmp, cacheFile);
    } catch { /* a read-only install: no cache */ }
  });
}
script.runInThisContext().call(m.exports, m.exports, (id) => m.require(id), m, file, __dirname);
