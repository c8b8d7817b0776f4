/**
 * ADD of a git repository (`git://…`, `git@…`, `ssh://…`, `http(s)://….git`, each with an optional
 * `#ref[:subdir]`): a shallow clone with the host's git into a private directory, its `.git` dropped
 * unless `--keep-git-dir`; the tree then copies like a context directory (its content is the key).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { CopyItem, CopySource } from './copy.js';
import { PatternMatcher } from './dockerignore.js';
import { ContextSource, type FileSource } from './fs.js';

export const isGitSource = (s: string): boolean => /^git:\/\//.test(s) || /^git@[^:]+:/.test(s) || /^ssh:\/\//.test(s) || /^https?:\/\/[^#]*\.git(#.*)?$/.test(s);

export class GitError extends Error {}

function git(args: string[], cwd: string | undefined, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, signal, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 1 << 24 }, (e, out, err) => {
      if (e) reject(new GitError(`${err.toString().trim().split('\n').pop() || e.message}`)); else resolve(out.toString());
    });
  });
}

/** Clone `source` under `tmpRoot`; returns the directory to copy (the subdir, when named) and how to remove it. */
export async function gitCheckout(source: string, tmpRoot: string, keepGitDir: boolean, signal?: AbortSignal): Promise<{ dir: string; commit: string; cleanup: () => void }> {
  const hash = source.indexOf('#');
  const url = hash < 0 ? source : source.slice(0, hash);
  const frag = hash < 0 ? '' : source.slice(hash + 1);
  const [ref, subdir] = frag.includes(':') ? [frag.slice(0, frag.indexOf(':')), frag.slice(frag.indexOf(':') + 1)] : [frag, ''];
  const base = mkdtempSync(join(tmpRoot, 'build-git-'));
  const cleanup = () => rmSync(base, { recursive: true, force: true });
  const dir = join(base, 'repo');
  try {
    try {
      await git(['clone', '--quiet', '--depth', '1', '--recurse-submodules', ...(ref ? ['--branch', ref] : []), '--', url, dir], undefined, signal);
    } catch (e) {
      if (!ref) throw e;
      // a commit rather than a branch or tag: the whole history, then that commit
      rmSync(dir, { recursive: true, force: true });
      await git(['clone', '--quiet', '--', url, dir], undefined, signal);
      await git(['checkout', '--quiet', ref], dir, signal);
    }
    const commit = (await git(['rev-parse', 'HEAD'], dir, signal)).trim();
    if (!keepGitDir) rmSync(join(dir, '.git'), { recursive: true, force: true });
    const sub = posix.normalize(`/${subdir}`).slice(1);
    return { dir: sub ? join(dir, sub) : dir, commit, cleanup };
  } catch (e) {
    cleanup();
    throw new GitError(`failed to fetch ${url}${ref ? ` at ${ref}` : ''}: ${(e as Error).message}`);
  }
}

/**
 * The git sources of one ADD, cloned: copy sources (each tree as `.`), then `inline` reads the bytes
 * of what was copied from them (the clones go at `cleanup`, before the layer is written) and says
 * what the cache key leaves out: a kept .git differs clone to clone (index times, logs), so it is
 * keyed by the commits, not its bytes.
 */
export async function gitSources(gits: string[], tmpRoot: string, keepGitDir: boolean, signal?: AbortSignal): Promise<{
  sources: CopySource[]; cleanup: () => void; inline: (items: CopyItem[]) => Promise<{ commits: string[]; meta: Set<CopyItem> }>;
}> {
  const cleanups: Array<() => void> = [];
  const cleanup = () => { for (const c of cleanups.splice(0)) c(); };
  const repos = new Set<FileSource>();
  const sources: CopySource[] = [];
  const commits: string[] = [];
  try {
    for (const g of gits) {
      const co = await gitCheckout(g, tmpRoot, keepGitDir, signal);
      cleanups.push(co.cleanup);
      commits.push(co.commit);
      const src = new ContextSource(co.dir, new PatternMatcher([]));
      repos.add(src);
      sources.push({ src, pattern: '.' });
    }
  } catch (e) { cleanup(); throw e; }
  const inline = async (items: CopyItem[]) => {
    const meta = new Set<CopyItem>();
    for (const it of items) {
      if (!it.from || !repos.has(it.from.src)) continue;
      if (/^\.git(\/|$)/.test(it.from.rel)) meta.add(it);
      const parts: Buffer[] = [];
      for await (const chunk of it.from.src.open(it.from.rel)) parts.push(chunk as Buffer);
      it.data = Buffer.concat(parts);
      delete it.from;
    }
    return { commits, meta };
  };
  return { sources, cleanup, inline };
}
