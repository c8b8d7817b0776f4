/**
 * Image use cases with their events: each does the image operation and records the event as moby
 * does, so that `berth serve` (src/api/) and the berth CLI log the same events, once. Pull and push
 * carry the familiar reference as actor id; tag, untag, delete, import, load and save the image id;
 * `name` is the reference where moby gives one (the image id for import, load and save).
 */
import type { Readable, Writable } from 'node:stream';
import {
  familiarName, familiarString, importRootfs, inspect, load, parseReference, prune, pull, push, remove, repositoryName, save, tag,
  type ImageContext, type ImportOptions, type LoadedImage, type LoadOptions, type PruneOptions, type PruneReport,
  type PullOptions, type PullResult, type PushOptions, type PushResult, type RemoveItem, type RemoveOptions, type SaveOptions,
} from '../image/index.js';
import { openStore, type NewEvent, type Store } from './store/index.js';

/** Where image events go: the engine's event log (`core.store.events`) or eventsAt(root). */
export interface ImageEventSink {
  append(ev: NewEvent): unknown;
}

/** The images and the event log an operation works on. */
export interface ImageTarget {
  images: ImageContext;
  events: ImageEventSink;
}

/**
 * The event log of a data root, opened at the first event (image commands run without an
 * engine); close() when done.
 */
export function eventsAt(root: string): ImageEventSink & { close(): void } {
  let store: Store | undefined;
  return {
    append(ev) { return (store ??= openStore(root)).events.append(ev); },
    close() { store?.close(); store = undefined; },
  };
}

/** An image event; moby's attributes: the image's labels (while it exists), then `name`. */
function record(t: ImageTarget, action: string, actorId: string, name?: string, labels?: Record<string, string> | null): void {
  t.events.append({ type: 'image', action, actorId, attributes: { ...labels, ...(name ? { name } : {}) } });
}

/** The labels of an image (none when it is gone). */
async function labelsOf(t: ImageTarget, ref: string): Promise<Record<string, string> | undefined> {
  const j = await inspect(t.images, ref).catch(() => undefined);
  return (j?.Config as { Labels?: Record<string, string> | null } | undefined)?.Labels ?? undefined;
}

export async function pullImage(t: ImageTarget, ref: string, opts: PullOptions = {}): Promise<PullResult> {
  const result = await pull(t.images, ref, opts);
  const r = parseReference(ref);
  record(t, 'pull', familiarString(r), familiarName(r), await labelsOf(t, ref));
  return result;
}

export async function pushImage(t: ImageTarget, ref: string, opts: PushOptions = {}): Promise<PushResult[]> {
  const results = await push(t.images, ref, opts);
  for (const r of results) {
    const p = parseReference(r.reference);
    record(t, 'push', familiarString(p), repositoryName(p), await labelsOf(t, r.reference));
  }
  return results;
}

export async function tagImage(t: ImageTarget, source: string, target: string): Promise<void> {
  await tag(t.images, source, target);
  const j = await inspect(t.images, target).catch(() => undefined);
  if (j) record(t, 'tag', String(j.Id), familiarString(parseReference(target)), (j.Config as { Labels?: Record<string, string> | null } | undefined)?.Labels);
}

export async function removeImage(t: ImageTarget, name: string, opts: RemoveOptions = {}): Promise<RemoveItem[]> {
  const j = await inspect(t.images, name).catch(() => undefined);
  const items = await remove(t.images, name, opts);
  for (const i of items) {
    if (i.Untagged) record(t, 'untag', String(j?.Id ?? ''), i.Untagged, (j?.Config as { Labels?: Record<string, string> | null } | undefined)?.Labels);
    if (i.Deleted) record(t, 'delete', i.Deleted, j ? undefined : name);
  }
  return items;
}

export async function importImage(t: ImageTarget, input: Readable, opts: ImportOptions = {}): Promise<string> {
  const id = await importRootfs(t.images, input, opts);
  // as moby: the tag (when named), then the import, named by the image id
  const labels = await labelsOf(t, id);
  if (opts.reference) record(t, 'tag', id, familiarString(parseReference(opts.reference)), labels);
  record(t, 'import', id, id, labels);
  return id;
}

export async function loadImages(t: ImageTarget, input: Readable | string, opts: LoadOptions = {}): Promise<LoadedImage[]> {
  const loaded = await load(t.images, input, opts);
  for (const l of loaded) record(t, 'load', l.id, l.id, await labelsOf(t, l.id));
  return loaded;
}

export async function saveImages(t: ImageTarget, names: string[], out: Writable, opts: SaveOptions = {}): Promise<void> {
  // the ids first: a name saved may be untagged before the archive is done
  const ids = new Map<string, Record<string, string> | undefined>();
  for (const n of names) {
    const j = await inspect(t.images, n).catch(() => undefined);
    if (j) ids.set(String(j.Id), (j.Config as { Labels?: Record<string, string> | null } | undefined)?.Labels ?? undefined);
  }
  await save(t.images, names, out, opts);
  for (const [id, labels] of ids) record(t, 'save', id, id, labels); // one per image, named by its id (moby)
}

export async function pruneUnusedImages(t: ImageTarget, opts: PruneOptions = {}): Promise<PruneReport> {
  const r = await prune(t.images, opts);
  for (const i of r.ImagesDeleted) if (i.Deleted) record(t, 'delete', i.Deleted);
  t.events.append({ type: 'image', action: 'prune', actorId: '', attributes: { reclaimed: String(r.SpaceReclaimed) } });
  return r;
}
