export { EngineCore } from './core.js';
export { createContainer, planMounts, RUN_OPTIONS_KEY, type CreateRequest } from './create.js';
export { startContainer, runOptionsOf, exitCodeForStartError, type StartOptions, type Started } from './start.js';
export { reconcile, settle, teardown, readExitRecord, monitorAlive, exitCodeOf } from './cleanup.js';
export {
  stopContainer, killContainer, pauseContainer, unpauseContainer, waitContainer, removeContainer, restartContainer,
  renameContainer, waitExit, type RemoveOptions,
} from './lifecycle.js';
export { readLogs, type LogsOptions } from './logs.js';
export { execInContainer, type ExecRequest } from './exec.js';
export { inspectContainer } from './inspect.js';
export { runContainer, type RunRequest, type RunResult } from './run.js';
export { resolveImage, readImageConfig, type PullPolicy, type ImageRequest } from './image.js';
export type { CreateFlags } from './docker-shape.js';
export {
  sampleStats, containerStats, emptyStats, isEmptySample, toStatsJSON, systemCpu, parseNetDev,
  type StatsJSON, type StatsOptions, type CpuStats, type NetworkStats, type BlkioStatEntry,
} from './stats.js';
export { topContainer, parsePsOutput, validatePsArgs, type TopResult } from './top.js';
