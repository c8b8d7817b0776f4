export { ContentStore, RESUMABLE_PREFIX, type IngestStatus } from './store.js';
export { IngestWriter, type BlobInfo } from './ingest.js';
export { digestHex, isDigest, sha256, shortDigest } from './digest.js';
export { writeFileAtomic, writeJSONAtomic, readJSONFile, lockFile, lockOwnerAlive, ownerTag, pidAlive, syncDir } from './atomic.js';
