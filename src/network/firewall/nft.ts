/** Runs nft with JSON: one `nft -j -f -` transaction per call, or a listing (`nft -j list …`). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../lib/index.js';

export interface NftOptions {
  /** the nft binary (default: nft on PATH) */
  nft?: string;
  /** run nft in this network namespace (`nsenter --net=PATH`), for tests */
  netns?: string;
  /** with netns: enter this user namespace first (rootless: the namespace owning netns; nsenter
   *  becomes its root, whose capabilities nft needs there) */
  userns?: string;
}

export type NftCommand = Record<string, unknown>;

interface RunResult { code: number; stdout: string; stderr: string }

function run(opts: NftOptions, args: string[]): Promise<RunResult> {
  const nft = opts.nft ?? 'nft';
  const ns = opts.netns ? [...(opts.userns ? [`--user=${opts.userns}`] : []), `--net=${opts.netns}`] : [];
  const [file, argv] = opts.netns ? ['nsenter', [...ns, '--', nft, ...args]] : [nft, args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({
      code: code ?? (signal ? 128 : 1),
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    }));
  });
}

/** nft's message, one line: the kernel's reason (the `Error: …` lines), without the JSON echo. */
export function nftMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errs = lines.filter((l) => l.startsWith('Error:')).map((l) => l.slice(6).trim());
  const uniq = [...new Set(errs.length ? errs : lines)];
  return uniq.join('; ').slice(0, 500) || 'nft failed';
}

/** Error from a failed transaction: `<op> <object>: nft: <message>`. */
export class NftError extends BerthError {
  readonly nftMessage: string;
  constructor(op: string, object: string, message: string, cause?: unknown) {
    super({ kind: 'system', op, message: `${op} ${object}: nft: ${message}`, cause });
    this.nftMessage = message;
  }
  /** the kernel said an object the transaction uses does not exist (table, map, chain or element) */
  get missing(): boolean { return /No such file or directory/.test(this.nftMessage); }
  /** the kernel said an element exists with other data */
  get busy(): boolean { return /Device or resource busy|File exists/.test(this.nftMessage); }
}

/** Largest transaction passed as nft's argument (a single argument may hold 128 KiB); larger ones
 *  go through a temporary file. Not stdin: Node's pipes are sockets, which nft cannot reopen as
 *  /dev/stdin. */
const ARG_MAX = 100_000;

/** Applies `commands` as one atomic transaction (`nft -j JSON`, or `nft -j -f FILE` when large). */
export async function transact(opts: NftOptions, op: string, object: string, commands: NftCommand[]): Promise<void> {
  if (!commands.length) return;
  let r: RunResult;
  try {
    const json = JSON.stringify({ nftables: commands });
    if (Buffer.byteLength(json) <= ARG_MAX) {
      r = await run(opts, ['-j', json]);
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'berth-nft-'));
      try {
        writeFileSync(join(dir, 'rules.json'), json);
        r = await run(opts, ['-j', '-f', join(dir, 'rules.json')]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } catch (err) {
    throw new NftError(op, object, `cannot run ${opts.nft ?? 'nft'}: ${(err as Error).message}`, err);
  }
  if (r.code !== 0) throw new NftError(op, object, nftMessage(r.stderr));
}

/** `nft -j list table FAMILY NAME`: its objects, or null when the table does not exist. */
export async function listTable(opts: NftOptions, op: string, family: string, table: string): Promise<NftCommand[] | null> {
  let r: RunResult;
  try {
    r = await run(opts, ['-j', 'list', 'table', family, table]);
  } catch (err) {
    throw new NftError(op, `table ${family} ${table}`, `cannot run ${opts.nft ?? 'nft'}: ${(err as Error).message}`, err);
  }
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) return null;
    throw new NftError(op, `table ${family} ${table}`, nftMessage(r.stderr));
  }
  try {
    const doc = JSON.parse(r.stdout) as { nftables?: NftCommand[] };
    return doc.nftables ?? [];
  } catch (err) {
    throw new NftError(op, `table ${family} ${table}`, `unreadable JSON listing: ${(err as Error).message}`, err);
  }
}
