/** The engine: Docker's use cases over the runtime, images, snapshots and the metadata store. */
export { Engine } from './engine.js';
export * from './options.js';
export * from './containers/index.js';
export * as spec from './spec/index.js';
export * as files from './files/index.js';
export * as store from './store/index.js';
export * from './volumes.js';
export * from './images.js';
export * from './system.js';
export * from './networks/index.js';
export * from './build-support.js';
export * from './bench-net.js';
export { defaultRoots, isRootless, type DefaultRoots } from './rootless/paths.js';
export { STORAGE_VERB } from './rootless/storage.js';
/** The rootless storage process's body (the CLI's internal verb; loaded only there). */
export const rootlessStorageMain = async (): Promise<number> => (await import('./rootless/storage-inner.js')).runStorageJob();
