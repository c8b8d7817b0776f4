/** The image a container is created from: resolved locally, pulled by policy, its config read. */
import { BerthError } from '../../lib/index.js';
import {
  contentStore, imageStore, parseConfig, parseReference, parsePlatform, pull, type ImageConfig, type ImageContext, type ImageRecord,
  type ProgressFn,
} from '../../image/index.js';
import { pullImage, type ImageEventSink } from '../images.js';

export type PullPolicy = 'always' | 'missing' | 'never';

export interface ResolvedImage {
  record: ImageRecord;
  config: ImageConfig;
  /** The reference as given (Docker keeps it in Config.Image). */
  name: string;
}

export interface ImageRequest {
  pull?: PullPolicy;
  platform?: string;
  onProgress?: ProgressFn;
  /** Called once before a pull starts (the CLI prints Docker's "Unable to find image" line). */
  onPull?: (ref: string) => void;
  /** Where a pull's event goes (the engine's event log), as the pull command's */
  events?: ImageEventSink;
}

export async function readImageConfig(ctx: ImageContext, rec: ImageRecord, op: string): Promise<ImageConfig> {
  return parseConfig(await contentStore(ctx).readBytes(rec.config.digest), op);
}

export async function resolveImage(ctx: ImageContext, ref: string, o: ImageRequest = {}): Promise<ResolvedImage> {
  const op = 'create container';
  const policy = o.pull ?? 'missing';
  const images = imageStore(ctx);
  let rec: ImageRecord | undefined;
  if (policy !== 'always') {
    try {
      rec = (await images.resolve(ref, op)).record;
    } catch (e) {
      if (!(e instanceof BerthError && e.kind === 'notfound')) throw e;
    }
  }
  if (!rec) {
    parseReference(ref); // a bad name is the error, before any "Unable to find image" line
    if (policy === 'never') throw new BerthError({ kind: 'notfound', op, message: `No such image: ${ref}` });
    o.onPull?.(ref);
    const opts = { platform: o.platform ? parsePlatform(o.platform) : undefined, onProgress: o.onProgress };
    const res = o.events ? await pullImage({ images: ctx, events: o.events }, ref, opts) : await pull(ctx, ref, opts);
    rec = res.record;
  }
  return { record: rec, config: await readImageConfig(ctx, rec, op), name: ref };
}
