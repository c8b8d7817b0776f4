/** The image commands, for the berth dispatcher: each exports `run(argv): Promise<number>`. */
export * as pull from './pull.js';
export * as push from './push.js';
export * as images from './images.js';
export * as image from './image.js';
export * as tag from './tag.js';
export * as rmi from './rmi.js';
export * as save from './save.js';
export * as load from './load.js';
export * as login from './login.js';
export * as logout from './logout.js';
export * as history from './history.js';
export * as inspect from './inspect.js';
export * as prune from './prune.js';
export * as import_ from './import.js';
export { setContextFactory, getContext, io, DEFAULT_ROOT } from './common.js';
export { ProgressPrinter } from './progress.js';
