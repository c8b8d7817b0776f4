/** Union-filesystem storage: layer application, overlay and copy snapshotters, mounts. */
export { applyLayer, removeLayerDir, type ApplyMode, type ApplyOptions, type ApplyResult } from './apply.js';
export { decompress, detectCompression, compressionOfMediaType, type Compression } from './decompress.js';
export { chainID, chainIDs } from './chain.js';
export {
  Snapshotter, openSnapshotter, driverByName, DRIVER_ENV, OWNER_LABEL, DIFFID_LABEL, SIZE_LABEL,
  type SnapshotterOptions, type SnapshotInfo, type UnpackRequest, type UnpackResult, type CleanupReport,
} from './snapshotter.js';
export type { SnapshotKind } from './metadata.js';
export type { DriverName } from './drivers.js';
export {
  mountAll, mountOverlay, mountFuseOverlay, FUSE_OVERLAYFS, unmount, compactOverlayOptions, OPTION_LIMIT, type Mount, type OverlayMethod,
} from './mounts.js';
export { probeOverlay, type ProbeResult } from './probe.js';
export { diskUsage, type Usage } from './usage.js';
export { removeTree } from './fsutil.js';
export { containerOwner } from './rootless.js';
