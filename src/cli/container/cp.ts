/**
 * `berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-` and `berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`.
 * The docker CLI's side of the copy: local paths are resolved and checked here, archives are
 * renamed so that extracting them gives `cp -a`'s result (a directory copied into an existing
 * one, `SRC/.` copying the contents, a missing destination taking the source's place), and
 * the engine lists or extracts the container's side.
 */
import { lstatSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { posix, resolve as resolvePath } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BerthError, usage } from '../../lib/index.js';
import type { EngineCore } from '../../engine/index.js';
import {
  archiveFromContainer, extractTar, extractToContainer, goBase, preserveTrailing, statContainerPath, S_IFDIR, S_IFLNK, S_IFMT,
  type PathStat,
} from '../../engine/index.js';
import { packTree } from '../../engine/index.js';
import { bool } from '../flags.js';
import { humanSize } from '../image/common.js';
import { io, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'cp',
  usage: 'berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: "Copy files/folders between a container and the local filesystem\n\nUse '-' as the source to read a tar archive from stdin\n"
    + "and extract it to a directory destination in a container.\nUse '-' as the destination to stream a tar archive of a\ncontainer source to stdout.",
  args: [2, 2],
  flags: [
    { name: 'archive', short: 'a', type: 'bool', help: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', help: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
  ],
};

/** What Docker's archive package knows about one side of a copy. */
interface CopyInfo { path: string; exists: boolean; isDir: boolean; rebaseName?: string }

const clientError = (message: string) => usage('cp', message);

/** Go's error text for a failed local file operation: `lstat /x: no such file or directory`. */
function goFsError(op: string, path: string, e: unknown): BerthError {
  const code = (e as NodeJS.ErrnoException).code;
  const text: Record<string, string> = { ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', EACCES: 'permission denied', ELOOP: 'too many levels of symbolic links' };
  return clientError(`${op} ${path}: ${(code && text[code]) || (e as Error).message}`);
}

/** `CONTAINER:PATH` → [container, path]; a local path gives container ''. */
export function splitCpArg(arg: string): [string, string] {
  if (arg.startsWith('/')) return ['', arg];
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return ['', arg];
  return [arg.slice(0, i), arg.slice(i + 1)];
}

const specifiesCurrentDir = (p: string) => goBase(p) === '.';
const hasTrailingSep = (p: string) => p.endsWith('/');

/** Docker's SplitPathDirEntry. */
export function splitPathDirEntry(p: string): [string, string] {
  let cleaned = posix.normalize(p);
  if (cleaned.length > 1) cleaned = cleaned.replace(/\/+$/, '');
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return [posix.dirname(cleaned), goBase(cleaned)];
}

function resolveLocalPath(p: string): string {
  return preserveTrailing(resolvePath(p), p);
}

function lstatLocal(p: string): Stats {
  try { return lstatSync(p); } catch (e) { throw goFsError('lstat', p, e); }
}

/** Docker's CopyInfoSourcePath (ResolveHostSourcePath): links in the parents followed, the last one with -L. */
function copyInfoSourcePath(path: string, follow: boolean): CopyInfo {
  let resolved: string;
  let rebaseName: string | undefined;
  if (follow) {
    let real: string;
    try { real = realpathSync(path); } catch (e) { throw goFsError('lstat', path, e); }
    if (specifiesCurrentDir(path) && !specifiesCurrentDir(real)) real += '/.';
    if (hasTrailingSep(path) && !hasTrailingSep(real)) real += '/';
    if (goBase(path) !== goBase(real)) rebaseName = goBase(path);
    resolved = real;
  } else {
    const i = path.lastIndexOf('/');
    const dir = path.slice(0, i + 1) || '.';
    const base = path.slice(i + 1);
    let rdir: string;
    try { rdir = realpathSync(dir); } catch (e) { throw goFsError('lstat', dir, e); }
    resolved = rdir === '/' ? `/${base}` : `${rdir}/${base}`;
    if (hasTrailingSep(path) && goBase(path) !== goBase(resolved)) rebaseName = goBase(path);
  }
  const st = lstatLocal(resolved);
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

/** Docker's CopyInfoDestinationPath: a symlink destination means its target; a missing one needs its parent. */
function copyInfoDestinationPath(path: string): CopyInfo {
  let p = path;
  for (let n = 0; ; n++) {
    let st: Stats | undefined;
    try { st = lstatSync(p); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw goFsError('lstat', p, e);
    }
    if (st && !st.isSymbolicLink()) return { path: p, exists: true, isDir: st.isDirectory() };
    if (!st) break;
    if (n > 10) throw clientError(`too many symlinks in ${path}`);
    const target = readlinkSync(p);
    p = target.startsWith('/') ? target : posix.join(splitPathDirEntry(p)[0], target);
  }
  const [parent] = splitPathDirEntry(p);
  let pst: Stats;
  try { pst = statSync(parent); } catch (e) { throw goFsError('stat', parent, e); }
  if (!pst.isDirectory()) throw clientError('not a directory');
  return { path: p, exists: false, isDir: false };
}

/**
 * Docker's PrepareArchiveCopy: the directory to extract into and the name the archive's top
 * entry must have there.
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dstDir: string; topName?: string } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  if (dst.exists && dst.isDir) return { dstDir: dst.path };
  if (dst.exists && src.isDir) throw clientError('cannot copy directory');
  if (!dst.exists && !src.isDir && (hasTrailingSep(dst.path) || specifiesCurrentDir(dst.path))) throw clientError('no such directory');
  return { dstDir, topName: dstBase };
}

/** A rename of archive entries from `oldBase` to `newBase` (Docker's RebaseArchiveEntries). */
function rebase(oldBase: string, newBase: string): (name: string) => string {
  const from = oldBase === '/' ? '' : oldBase;
  return (name) => {
    const i = name.indexOf(from);
    return i < 0 ? name : name.slice(0, i) + newBase + name.slice(i + from.length);
  };
}

/** Counts the bytes going through (the size Docker reports), and shows progress on a terminal. */
class Progress {
  total = 0;
  private timer?: NodeJS.Timeout;
  constructor(private readonly header: string, private readonly show: boolean) {
    if (!show) return;
    io.err.write('\x1b7Preparing to copy...');
    this.timer = setInterval(() => this.draw(), 100);
  }

  private draw(): void {
    io.err.write(`\x1b8\x1b[2K${this.header}${humanSize(this.total)}`);
  }

  /** `src` passed through, counted; an error of `src` ends it too. */
  count(src: Readable): Readable {
    const t = new PassThrough();
    t.on('data', (c: Buffer) => { this.total += c.length; });
    src.on('error', (e: Error) => t.destroy(e));
    return src.pipe(t);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.show) io.err.write('\x1b8\x1b[2K');
  }
}

interface CpConfig { container: string; src: string; dst: string; follow: boolean; copyUIDGID: boolean; quiet: boolean }

function isDirMode(mode: number): boolean { return (mode & S_IFMT) === S_IFDIR; }
function isLinkMode(mode: number): boolean { return (mode & S_IFMT) === S_IFLNK; }

async function copyFromContainer(core: EngineCore, c: CpConfig): Promise<void> {
  let dstPath = c.dst;
  if (dstPath !== '-') dstPath = resolveLocalPath(dstPath);
  validateOutputPath(dstPath);
  let srcPath = c.src;
  let rebaseName: string | undefined;
  if (c.follow) {
    const st = await statContainerPath(core, c.container, srcPath).catch(() => undefined);
    if (st && isLinkMode(st.mode)) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(srcPath)[0], target);
      if (specifiesCurrentDir(srcPath) && !specifiesCurrentDir(target)) target += '/.';
      if (hasTrailingSep(srcPath) && !hasTrailingSep(target)) target += '/';
      if (goBase(srcPath) !== goBase(target)) rebaseName = goBase(srcPath);
      srcPath = target;
    }
  }
  const progress = new Progress('Copying from container - ', !c.quiet && dstPath !== '-' && !!io.err.isTTY);
  try {
    await archiveFromContainer(core, c.container, srcPath, async (stat: PathStat, archive: Readable) => {
      if (dstPath === '-') {
        await pipeline(archive, io.out as NodeJS.WritableStream, { end: false });
        return;
      }
      const src: CopyInfo = { path: srcPath, exists: true, isDir: isDirMode(stat.mode), rebaseName };
      await copyTo(progress.count(archive), src, dstPath);
    });
  } finally {
    progress.stop();
  }
  if (!c.quiet && dstPath !== '-') io.err.write(`Successfully copied ${humanSize(progress.total)} to ${dstPath}\n`);
}

/** Docker's archive.CopyTo: extract a container's archive at a local destination. */
async function copyTo(archive: Readable, src: CopyInfo, dstPath: string): Promise<void> {
  const dst = copyInfoDestinationPath(dstPath);
  const { dstDir, topName } = prepareArchiveCopy(src, dst);
  // the archive's top entry is named after what was archived (a -L link's target); it takes
  // the destination's name, or in an existing directory the name the user gave (like cp -L)
  const archived = splitPathDirEntry(src.path)[1];
  const want = topName ?? src.rebaseName;
  const rename = want === undefined || want === archived ? undefined : rebase(archived, want);
  try {
    await extractTar(archive, '/', dstDir, { chown: false, noOverwriteDirNonDir: true, rename });
  } catch (e) {
    // errors on this side are the client's (no "Error response from daemon")
    if (e instanceof BerthError && e.kind !== 'usage') throw clientError(e.message.replace(/^extract: /, ''));
    throw e;
  }
}

/** Docker's command.ValidateOutputPath. */
function validateOutputPath(p: string): void {
  if (p === '-') return;
  const dir = posix.dirname(posix.normalize(p));
  if (dir && dir !== '.') {
    try { statSync(dir); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw clientError(`invalid output path: directory "${dir}" does not exist`);
    }
  }
  let st: Stats;
  try { st = statSync(p); } catch { return; }
  if (st.isDirectory() || st.isFile()) return;
  throw clientError(`invalid output path: "${p}" must be a directory or a regular file: got ${st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'an irregular file'}`);
}

function checkDestMode(c: CpConfig, st: PathStat): void {
  const t = st.mode & S_IFMT;
  if (t === 0o020000 || t === 0o060000) throw clientError(`destination "${c.container}:${c.dst}" must be a directory or a regular file: got a device`);
  if (t === 0o010000 || t === 0o140000) throw clientError(`destination "${c.container}:${c.dst}" must be a directory or a regular file: got an irregular file`);
}

async function copyToContainer(core: EngineCore, c: CpConfig): Promise<void> {
  let srcPath = c.src;
  if (srcPath !== '-') srcPath = resolveLocalPath(srcPath);
  const dst: CopyInfo = { path: c.dst, exists: false, isDir: false };
  let st = await statContainerPath(core, c.container, c.dst).catch(() => undefined);
  if (st && isLinkMode(st.mode)) {
    let target = st.linkTarget;
    if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(c.dst)[0], target);
    dst.path = target;
    st = await statContainerPath(core, c.container, target).catch(() => undefined);
  }
  if (st) {
    checkDestMode(c, st);
    dst.exists = true;
    dst.isDir = isDirMode(st.mode);
  }
  const progress = new Progress('Copying to container - ', !c.quiet && !!io.err.isTTY);
  try {
    let content: Readable;
    let resolvedDst: string;
    if (srcPath === '-') {
      if (!dst.isDir) throw clientError(`destination "${c.container}:${c.dst}" must be a directory`);
      if (io.in.isTTY) throw clientError('cp: requested a tar archive from stdin, but stdin is a terminal');
      content = progress.count(io.in as Readable);
      resolvedDst = dst.path;
    } else {
      const src = copyInfoSourcePath(srcPath, c.follow);
      const { dstDir, topName } = prepareArchiveCopy(src, dst);
      const srcBase = src.rebaseName || splitPathDirEntry(src.path)[1];
      content = progress.count(packTree(src.path, topName ?? srcBase));
      resolvedDst = dstDir;
    }
    await extractToContainer(core, c.container, resolvedDst, content, { copyUIDGID: c.copyUIDGID, noOverwriteDirNonDir: true });
  } finally {
    progress.stop();
  }
  if (!c.quiet) io.err.write(`Successfully copied ${humanSize(progress.total)} to ${c.container}:${dst.path}\n`);
}

export async function run(argv: string[], name = 'cp'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const [source, destination] = p.args as [string, string];
    if (!source) throw clientError('source can not be empty');
    if (!destination) throw clientError('destination can not be empty');
    // like docker: without -q, progress is shown only when stdout is a terminal
    const quiet = p.set.has('quiet') ? bool(p, 'quiet') : !io.out.isTTY;
    const [srcContainer, src] = splitCpArg(source);
    const [dstContainer, dst] = splitCpArg(destination);
    const base = { src, dst, follow: bool(p, 'follow-link'), copyUIDGID: bool(p, 'archive'), quiet };
    if (srcContainer && dstContainer) throw clientError('copying between containers is not supported');
    if (srcContainer) await copyFromContainer(core, { ...base, container: srcContainer });
    else if (dstContainer) await copyToContainer(core, { ...base, container: dstContainer });
    else throw clientError('must specify at least one container source');
    return 0;
  });
}
