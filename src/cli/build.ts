/**
 * `berth build [OPTIONS] PATH | -` and `berth builder prune`. The context is a directory, a tar
 * on stdin (`-`, extracted into a temporary directory: no entry may land outside it or through a
 * link) or nothing (a Dockerfile on stdin). Progress goes to stderr as BuildKit's plain lines;
 * `-q` prints only the image id on stdout.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { BerthError, describeError, gunzipStream, usage } from '../lib/index.js';
import { build, BuildCache, DockerfileError, parseOutput, StepFailed, type BuildSecret, type BuildSsh } from '../build/index.js';
import { onSignal } from './context.js';
import { TtyProgress, type TtyLike } from './build-progress.js';
import { bool, str, strs } from './flags.js';
import { io, print, printErr, runEngineCommand, type CommandSpec } from './container/common.js';

export const spec: CommandSpec = {
  name: 'build',
  usage: 'berth build [OPTIONS] PATH | -',
  description: 'Build an image from a Dockerfile',
  args: [1, 1],
  flags: [
    { name: 'tag', short: 't', type: 'strings', help: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'file', short: 'f', type: 'string', help: 'Name of the Dockerfile (default: "PATH/Dockerfile")' },
    { name: 'build-arg', type: 'strings', help: 'Set build-time variables' },
    { name: 'target', type: 'string', help: 'Set the target build stage to build' },
    { name: 'no-cache', type: 'bool', help: 'Do not use cache when building the image' },
    { name: 'pull', type: 'bool', help: 'Always attempt to pull all referenced images' },
    { name: 'cache-from', type: 'strings', help: 'Images to consider as cache sources (built by berth; pulled when missing)' },
    { name: 'label', type: 'strings', help: 'Set metadata for an image' },
    { name: 'iidfile', type: 'string', help: 'Write the image ID to the file' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the build output and print image ID on success' },
    { name: 'progress', type: 'string', default: 'auto', help: 'Set type of progress output ("auto", "plain", "tty", "quiet")' },
    { name: 'ssh', type: 'strings', help: 'SSH agent socket to expose to the build (format: "default|<id>[=<socket>]")' },
    { name: 'secret', type: 'strings', help: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret]" or "id=X,env=VAR")' },
    { name: 'allow', type: 'strings', help: 'Allow extra privileged entitlement (e.g., "security.insecure")' },
    { name: 'add-host', type: 'strings', help: 'Add a custom host-to-IP mapping ("host:ip")' },
    { name: 'output', short: 'o', type: 'strings', help: 'Output destination (format: "type=local,dest=path", "type=tar,dest=file|-", "type=image")' },
    { name: 'network', type: 'string', help: 'Set the networking mode for the RUN instructions during build (default, none, host)' },
  ],
};

async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of io.in as AsyncIterable<Buffer>) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const isTar = (b: Buffer) => b.length >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';

/** A context tar into `dir`: names cleaned, nothing outside `dir`, nothing written through a link. */
async function extractContext(buf: Buffer, dir: string): Promise<void> {
  const gz = buf[0] === 0x1f && buf[1] === 0x8b;
  const ex = tar.extract();
  const src = gz ? Readable.from([buf]).pipe(gunzipStream()) : Readable.from([buf]);
  await new Promise<void>((res, rej) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        try {
          const rel = posix.normalize(`/${h.name}`).slice(1).replace(/\/$/, '');
          if (rel && !rel.startsWith('..')) {
            const parts = rel.split('/');
            let p = dir;
            for (const part of parts.slice(0, -1)) {
              p = join(p, part);
              const st = existsSync(p) ? lstatSync(p) : undefined;
              if (st && !st.isDirectory()) throw new BerthError({ kind: 'invalid', op: 'build', message: `build: context tar: ${rel}: a parent is not a directory` });
              if (!st) mkdirSync(p, { mode: 0o755 });
            }
            const target = join(dir, rel);
            const mode = (h.mode ?? 0o644) & 0o7777;
            if (h.type === 'directory') { if (!existsSync(target)) mkdirSync(target, { mode }); }
            else if (h.type === 'symlink') symlinkSync(h.linkname ?? '', target);
            else if (h.type === 'file' || h.type === 'contiguous-file') writeFileSync(target, Buffer.concat(chunks), { mode, flag: 'wx' });
          }
          next();
        } catch (e) { rej(e); }
      });
    });
    ex.on('finish', res);
    ex.on('error', rej);
    src.on('error', rej);
    src.pipe(ex);
  });
}

/** `--secret id=ID[,src|source=FILE][,env=VAR][,type=file|env]` (buildx's parser). */
function parseSecret(v: string): BuildSecret {
  const out: { id?: string; src?: string; env?: string; type?: string } = {};
  for (const f of v.split(',')) {
    const i = f.indexOf('=');
    const k = (i < 0 ? f : f.slice(0, i)).trim().toLowerCase();
    const val = i < 0 ? '' : f.slice(i + 1);
    if (k === 'type') { if (val !== 'file' && val !== 'env') throw usage('build', `invalid secret ${v}: unsupported secret type "${val}"`); out.type = val; }
    else if (k === 'id') out.id = val;
    else if (k === 'src' || k === 'source') out.src = val;
    else if (k === 'env') out.env = val;
    else throw usage('build', `invalid secret ${v}: unexpected key '${k}' in '${f}'`);
  }
  if (out.type === 'env' && !out.env) { out.env = out.src; delete out.src; }
  if (!out.id) out.id = out.src ? posix.basename(out.src) : out.env;
  if (!out.id) throw usage('build', `invalid secret ${v}: an id is required`);
  if (out.src) {
    out.src = resolve(out.src);
    if (!existsSync(out.src)) throw usage('build', `invalid secret ${v}: open ${out.src}: no such file or directory`);
  }
  return { id: out.id, ...(out.src ? { src: out.src } : {}), ...(out.env ? { env: out.env } : {}) };
}

/** `--cache-from IMAGE` or buildx's `type=registry,ref=IMAGE` (the image's inline cache: berth keeps no other kind). */
function parseCacheFrom(v: string): string {
  if (!v.includes('=')) return v;
  const kv = new Map(v.split(',').map((f) => { const i = f.indexOf('='); return [i < 0 ? f : f.slice(0, i), i < 0 ? '' : f.slice(i + 1)] as const; }));
  const type = kv.get('type') ?? 'registry';
  if (type !== 'registry' || !kv.get('ref')) throw usage('build', `invalid cache-from ${v}: berth reads the cache an image carries: give the image (IMAGE or type=registry,ref=IMAGE)`);
  return kv.get('ref')!;
}

/** `--ssh default|ID[=SOCKET]`: an agent socket (default: $SSH_AUTH_SOCK); key files are not taken. */
function parseSsh(v: string): BuildSsh {
  const i = v.indexOf('=');
  const id = i < 0 ? v : v.slice(0, i);
  const path = i < 0 ? process.env.SSH_AUTH_SOCK : v.slice(i + 1).split(',')[0];
  if (!id) throw usage('build', `invalid ssh ${v}: an id is required`);
  if (!path) throw usage('build', `invalid ssh ${v}: SSH_AUTH_SOCK is not set (give the agent's socket: --ssh ${id}=SOCKET)`);
  const full = resolve(path);
  let st;
  try { st = statSync(full); } catch { throw usage('build', `invalid ssh ${v}: stat ${full}: no such file or directory`); }
  if (!st.isSocket()) throw usage('build', `invalid ssh ${v}: ${full} is not an SSH agent socket (berth forwards agents, not key files: ssh-add the key to an agent)`);
  return { id, socket: full };
}

export async function run(argv: string[]): Promise<number> {
  return runEngineCommand(spec, argv, async (p, core) => {
    const progress = str(p, 'progress') || 'auto';
    if (!['auto', 'plain', 'quiet', 'tty'].includes(progress)) throw usage('build', `invalid progress mode ${progress}: use auto, plain or quiet`);
    const quiet = bool(p, 'quiet') || progress === 'quiet';
    const ctxArg = p.args[0]!;
    const file = str(p, 'file');
    let contextDir: string | undefined;
    let dockerfile: string | undefined;
    let dockerfilePath: string | undefined;
    let temp: string | undefined;
    const buildArgs: Record<string, string | undefined> = {};
    for (const a of strs(p, 'build-arg')) {
      const i = a.indexOf('=');
      if (i < 0) buildArgs[a] = undefined; else buildArgs[a.slice(0, i)] = a.slice(i + 1);
    }
    const secrets = strs(p, 'secret').map(parseSecret);
    const ssh = strs(p, 'ssh').map(parseSsh);
    const allow = strs(p, 'allow').flatMap((a) => a.split(','));
    for (const a of allow) if (!['security.insecure', 'network.host'].includes(a)) throw usage('build', `invalid entitlement: ${a}`);
    const network = str(p, 'network') || 'default';
    if (!['default', 'none', 'host'].includes(network)) throw usage('build', `invalid network mode ${network}: use default, none or host`);
    const addHosts = strs(p, 'add-host');
    for (const h of addHosts) if (!/^[^:]+:.+$/.test(h)) throw usage('build', `invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`);
    const outputs = strs(p, 'output').map((v) => { try { return parseOutput(v); } catch (e) { throw usage('build', `invalid output ${v}: ${(e as Error).message}`); } });
    if (outputs.length > 1) throw usage('build', 'multiple outputs are not supported');
    const output = outputs[0];
    if (output?.dest && output.dest !== '-') output.dest = resolve(output.dest);
    const cacheFrom = strs(p, 'cache-from').map(parseCacheFrom);
    const labels: Record<string, string> = {};
    for (const l of strs(p, 'label')) { const i = l.indexOf('='); labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1); }
    try {
      if (ctxArg === '-') {
        if (file === '-') throw usage('build', 'invalid argument: can\'t use stdin for both build context and dockerfile');
        const input = await readStdin();
        if (isTar(input) || (input[0] === 0x1f && input[1] === 0x8b)) {
          temp = mkdtempSync(join(tmpdir(), 'berth-build-ctx-'));
          await extractContext(input, temp);
          contextDir = temp;
        } else dockerfile = input.toString('utf8');
      } else {
        contextDir = resolve(ctxArg);
        if (!existsSync(contextDir) || !statSync(contextDir).isDirectory()) throw usage('build', `unable to prepare context: path "${ctxArg}" not found`);
      }
      if (file === '-') dockerfile = (await readStdin()).toString('utf8');
      else if (dockerfile === undefined) {
        dockerfilePath = file ? resolve(file) : join(contextDir!, 'Dockerfile');
        if (file && !existsSync(dockerfilePath) && contextDir) dockerfilePath = join(contextDir, file);
        try { dockerfile = readFileSync(dockerfilePath, 'utf8'); } catch {
          throw new BerthError({ kind: 'notfound', op: 'build', message: `build: failed to read dockerfile: open ${dockerfilePath}: no such file or directory` });
        }
      }
      const ac = new AbortController();
      const offs = [onSignal('SIGINT', () => ac.abort()), onSignal('SIGTERM', () => ac.abort()), onSignal('hangup', () => ac.abort())];
      // on a terminal (or --progress=tty): one line per step, redrawn in place; plain lines otherwise
      const tty = !quiet && (progress === 'tty' || (progress === 'auto' && !!io.err.isTTY)) ? new TtyProgress(io.err as TtyLike) : undefined;
      const log = quiet ? () => undefined : tty ? tty.log : (l: string) => { io.err.write(`${l}\n`); };
      try {
        const res = await build(core, {
          contextDir, dockerfile, dockerfileName: file && file !== '-' ? posix.basename(file) : 'Dockerfile', dockerfilePath,
          tags: strs(p, 'tag'), buildArgs, target: str(p, 'target') || undefined, noCache: bool(p, 'no-cache'), pull: bool(p, 'pull'), cacheFrom,
          labels, log, signal: ac.signal, secrets, ssh, allow, addHosts, network: network as 'default' | 'none' | 'host',
          ...(output ? { output } : {}), stdout: io.out as unknown as import('node:stream').Writable,
        });
        for (const w of res.warnings) if (!quiet) io.err.write(`${w}\n`);
        const iid = str(p, 'iidfile');
        if (iid && res.id) writeFileSync(iid, res.id);
        if (quiet && res.id) print(res.id);
        return 0;
      } finally { tty?.finish(); for (const off of offs) off(); }
    } catch (e) {
      if (e instanceof StepFailed) {
        for (const l of e.tail) io.err.write(`> ${l}\n`);
      }
      if (e instanceof BerthError && e.kind === 'usage') throw e;
      const msg = e instanceof DockerfileError ? `build: ${e.message}` : describeError(e);
      printErr(`berth: ${msg.startsWith('build') ? msg : `build: ${msg}`}`);
      return 1;
    } finally {
      if (temp) rmSync(temp, { recursive: true, force: true });
    }
  });
}

const pruneSpec: CommandSpec = {
  name: 'builder prune',
  usage: 'berth builder prune [OPTIONS]',
  description: 'Remove build cache',
  args: [0, 0],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused build cache, not just dangling ones' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
};

/** `berth builder prune`: the cache's entries (the layers go with the next image GC when no image uses them). */
export async function builder(argv: string[]): Promise<number> {
  if (argv[0] !== 'prune') {
    printErr(`berth: builder: ${argv[0] ? `unknown command "${argv[0]}"` : 'a subcommand is required'} (prune)`);
    return 1;
  }
  return runEngineCommand(pruneSpec, argv.slice(1), async (_p, core) => {
    const r = await new BuildCache(core.options.root).prune();
    print(`Deleted build cache objects: ${r.entries}`);
    print(`Total reclaimed space: ${r.bytes}B`);
    return 0;
  });
}
