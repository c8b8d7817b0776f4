/** Record types of the engine's metadata store (containers, volumes, events). */

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon';
export type JsonObject = Record<string, unknown>;
export type Labels = Record<string, string>;
/** Docker-style filters: key → values (values of one key are ORed, keys are ANDed; labels are ANDed). */
export type Filters = Record<string, string[]>;

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  /** The last error message ('' when none), as Docker's State.Error. */
  error: string;
  /** RFC 3339 with nanoseconds (fixed width, UTC), or null before the first start / exit. */
  startedAt: string | null;
  finishedAt: string | null;
  oomKilled: boolean;
  restartCount: number;
  /** Pid of the per-container monitor (0 when none). */
  monitorPid: number;
  /** Stopped by its user: 0 no, 1 a signal (Docker's HasBeenManuallyStopped), 2 stop/kill (no restart at all). */
  manualStop: number;
  /** The restart back-off: the delay before the next policy restart (0: none yet). */
  restartTimeoutMs: number;
}

/** A volume mounted into a container. */
export interface VolumeRef {
  name: string;
  destination: string;
  rw: boolean;
}

export interface Container {
  id: string;
  /** Without the leading slash. */
  name: string;
  /** The image reference as the user gave it (after normalisation by the caller). */
  image: string;
  /** The image's config digest, `sha256:<hex>`. */
  imageId: string;
  created: string;
  state: ContainerState;
  config: JsonObject;
  hostConfig: JsonObject;
  labels: Labels;
  /** Resolved mounts for inspect (opaque to the store). */
  mounts: unknown[];
  volumes: VolumeRef[];
  logPath: string;
  bundleDir: string;
  snapshotKey: string;
  driver: string;
  platform: string;
  updated: string;
}

export interface NewVolumeMount {
  /** Absent: a new anonymous volume (64-hex name). Present and missing: created (named). */
  name?: string;
  destination: string;
  rw?: boolean;
  /** A named entry that is still anonymous (the engine picks the name of an anonymous volume). */
  anonymous?: boolean;
}

export interface NewContainer {
  name?: string;
  image: string;
  imageId: string;
  config?: JsonObject;
  hostConfig?: JsonObject;
  /** Defaults to config.Labels when that is an object. */
  labels?: Labels;
  mounts?: unknown[];
  volumes?: NewVolumeMount[];
  /** Default `<root>/containers/<id>/<id>-json.log`. */
  logPath?: string;
  /** Default `<root>/containers/<id>`. */
  bundleDir?: string;
  snapshotKey?: string;
  driver?: string;
  platform?: string;
}

/** Fields that may change without a state transition. */
export interface ContainerPatch {
  config?: JsonObject;
  hostConfig?: JsonObject;
  labels?: Labels;
  mounts?: unknown[];
  logPath?: string;
  bundleDir?: string;
  snapshotKey?: string;
  pid?: number;
  exitCode?: number;
  error?: string;
  oomKilled?: boolean;
  startedAt?: string | null;
  finishedAt?: string | null;
  monitorPid?: number;
  restartCount?: number;
  manualStop?: number;
  restartTimeoutMs?: number;
}

export interface StateChange {
  /** Fail (conflict) unless the current status is one of these. */
  expect?: ContainerStatus[];
  pid?: number;
  exitCode?: number;
  oomKilled?: boolean;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
  monitorPid?: number;
  /** On → running: reset the restart count, the back-off and the manual stop (a manual start). */
  resetRestartCount?: boolean;
  restartTimeoutMs?: number;
  manualStop?: number;
}

export interface ListOptions {
  /** Include stopped containers (default: only running, paused, restarting, unless a status filter is given). */
  all?: boolean;
  /** The n most recently created (implies all). */
  limit?: number;
  filters?: Filters;
}

export interface Volume {
  name: string;
  driver: string;
  mountpoint: string;
  options: Labels;
  labels: Labels;
  created: string;
  anonymous: boolean;
}

export interface NewVolume {
  name?: string;
  driver?: string;
  /** Default `<root>/volumes/<name>/_data`. */
  mountpoint?: string;
  options?: Labels;
  labels?: Labels;
  anonymous?: boolean;
}

export interface VolumeUsage {
  volume: Volume;
  /** Number of containers referring to it. */
  refCount: number;
  containers: string[];
}

export interface EngineEvent {
  id: number;
  type: EventType;
  action: string;
  actor: { id: string; attributes: Labels };
  scope: 'local';
  /** Seconds since the epoch. */
  time: number;
  timeNano: bigint;
}

export interface NewEvent {
  type: EventType;
  action: string;
  actorId: string;
  attributes?: Labels;
  timeNano?: bigint;
}

export interface EventQuery {
  /** Inclusive, nanoseconds since the epoch. */
  since?: bigint;
  /** Inclusive. */
  until?: bigint;
  /** Only events with a larger id (for following). */
  afterId?: number;
  filters?: Filters;
  limit?: number;
}
