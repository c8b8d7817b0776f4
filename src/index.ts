/** berth as a library: `import { Engine } from 'berth'`. */
export { Engine, type EngineOptions, type CreateRequest, type RunRequest, type RunResult, type LogsOptions, type ExecRequest, type RemoveOptions } from './engine/index.js';
export type { RunOptions, MountSpec } from './engine/spec/index.js';
export type { Container, ContainerState } from './engine/store/index.js';
export { BerthError } from './lib/index.js';
