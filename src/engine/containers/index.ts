export { EngineCore } from './core.js';
export { createContainer, planMounts, adaptToCgroupV2, RUN_OPTIONS_KEY, type CreateRequest } from './create.js';
export { startContainer, runOptionsOf, exitCodeForStartError, type StartOptions, type Started } from './start.js';
export { reconcile, settle, teardown, readExitRecord, monitorAlive, exitCodeOf } from './cleanup.js';
export {
  stopContainer, killContainer, pauseContainer, unpauseContainer, waitContainer, removeContainer, restartContainer,
  renameContainer, waitExit, WAIT_CONDITIONS, type RemoveOptions, type WaitCondition,
} from './lifecycle.js';
export { readLogs, type LogsOptions } from './logs.js';
export { execInContainer, type ExecRequest } from './exec.js';
export { inspectContainer, listView } from './inspect.js';
export { runContainer, type RunRequest, type RunResult } from './run.js';
export { resolveImage, readImageConfig, type PullPolicy, type ImageRequest } from './image.js';
export type { CreateFlags } from './docker-shape.js';
export {
  sampleStats, containerStats, emptyStats, isEmptySample, toStatsJSON, systemCpu, parseNetDev,
  type StatsJSON, type StatsOptions, type CpuStats, type NetworkStats, type BlkioStatEntry,
} from './stats.js';
export { topContainer, parsePsOutput, validatePsArgs, type TopResult } from './top.js';
export {
  statContainerPath, archiveFromContainer, extractToContainer, extractTar, goBase, preserveTrailing, containerAbs,
  S_IFMT, S_IFDIR, S_IFLNK, type PathStat, type ExtractOptions, type ExtractToContainerOptions,
} from './cp.js';
export {
  containerChanges, snapshotChanges, CHANGE_MODIFY, CHANGE_ADD, CHANGE_DELETE, INIT_PATHS, type Change, type ChangeKind, type LayerEntry,
} from './diff.js';
export { commitContainer, type CommitOptions } from './commit.js';
export { exportContainer, withContainerView, packTree, type ContainerView, type ViewOptions } from './export.js';
export {
  parseRestartPolicy, validateRestartPolicy, policyOf, decideRestart, MANUAL_CANCEL, MANUAL_SIGNAL,
  type RestartPolicy, type RestartPolicyName, type RestartDecision,
} from './restart-policy.js';
export { updateContainer, checkUpdateRequest, type UpdateRequest, type UpdateResult } from './update.js';
export { bootContainers, startsAtBoot, type BootResult } from './boot.js';
export {
  parseGoDuration, mergeHealthcheck, validateHealthcheck, readHealth, healthStatus, healthSuffix, ingestHealthEvents, ingestAllHealthEvents, checkHealthFilter,
  HEALTH_ACTIONS, type HealthConfig, type HealthState, type HealthStatus, type HealthAction,
} from './health.js';
export { humanDuration, statusText } from './status-text.js';
