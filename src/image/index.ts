/** Images: references, registry client, image store and the use cases (pull, push, list, …). */
export * from './reference.js';
export * from './manifest.js';
export * from './platform.js';
export * from './events.js';
export { ImageStore, Lease, type ImageRecord, type TagEntry } from './store.js';
export {
  contentStore, imageStore, snapshotter, registryClient, registryHosts, closeContext, readDaemonConfig, type ImageContext, type ImageUse,
} from './context.js';
export { pull, type PullOptions, type PullResult } from './pull.js';
export { push, type PushOptions, type PushResult } from './push.js';
export { listImages, parseListFilters, inspect, history, type ImageRow, type ListFilters, type HistoryRow } from './query.js';
export { tag, remove, prune, collectGarbage, type RemoveItem, type RemoveOptions, type PruneOptions, type PruneReport } from './manage.js';
export { save, type ArchiveFormat, type SaveOptions } from './save.js';
export { load, type LoadOptions, type LoadedImage } from './load.js';
export { importRootfs, applyChanges, type ImportOptions } from './importer.js';
export { BlobDownload, Limiter } from './transfer.js';
export * as registry from './registry/index.js';
