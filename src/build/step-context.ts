/** What every step of a build shares (StepContext), and what a failed RUN throws. */
import { BerthError } from '../lib/index.js';
import type { Lease } from '../image/index.js';
import type { BuildImage, EngineCore } from '../engine/index.js';
import type { BuildCache } from './cache.js';
import type { ContextSource, FileSource } from './fs.js';
import type { Dockerfile, Stage } from './instructions.js';
import type { BuildSecret, BuildSsh } from './mounts.js';
import type { CacheStep } from './inline-cache.js';

export interface StepContext {
  core: EngineCore;
  df: Dockerfile;
  cache: BuildCache;
  lease: Lease;
  context: ContextSource;
  buildArgs: Map<string, string>;
  used: Set<string>;
  globals: Map<string, string>;
  log: (line: string) => void;
  signal?: AbortSignal;
  noCache: boolean;
  pull: boolean;
  counters: { steps: number; cached: number };
  /** layer blobs found stored during this build (the cache checks each once) */
  storedBlobs: Set<string>;
  nextStep: () => number;
  stageResult: (i: number) => Promise<{ img: BuildImage; key: string; trail: CacheStep[] }>;
  /** `--cache-from` images' steps: key → the state after it */
  seeds: Map<string, BuildImage>;
  layersOf: (img: BuildImage) => Promise<FileSource>;
  imageSource: (ref: string) => Promise<FileSource>;
  stageLabel: (s: Stage, k: number) => string;
  /** `--secret`s by id */
  secrets: Map<string, BuildSecret>;
  /** `--ssh` agents by id */
  ssh: Map<string, BuildSsh>;
  /** `--allow` entitlements */
  allow: Set<string>;
  /** `--add-host` entries (`name:ip`) */
  addHosts: string[];
  /** `--network`: the RUNs' default network (default: the engine's default bridge) */
  network: 'default' | 'none' | 'host';
}

/** A RUN that exited non-zero. */
export class StepFailed extends BerthError {
  constructor(where: string, label: string, text: string, argv: string[], readonly exitCode: number, readonly tail: string[]) {
    super({
      kind: 'invalid', op: 'build',
      message: `build: ${where}: ${label} ${text}: process "${argv.join(' ')}" did not complete successfully: exit code: ${exitCode}`,
    });
  }
}

/** A text file of a source (undefined when it is not a regular file). */
export async function readText(src: FileSource, rel: string): Promise<string | undefined> {
  if (!src.lstat(rel)?.isFile()) return undefined;
  const parts: Buffer[] = [];
  for await (const c of src.open(rel)) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}
