export { RegistryClient, sharedTokens, type RegistryClientOptions, type FetchedManifest, type EndpointState, type RequestOptions } from './client.js';
export { RegistryHosts, isLocalhost, type RegistryHostsConfig, type Endpoint } from './hosts.js';
export { CredentialStore, DOCKER_HUB_KEY, dockerConfigDir, dockerConfigPath, serverKey, runCredentialHelper, type Credentials, type DockerConfigFile } from './credentials.js';
export { TokenCache, parseChallenges, repoScope, type Challenge } from './auth.js';
export { fetchBlob, type BlobSink, type FetchBlobOptions } from './download.js';
export { uploadBlob, blobExists, type UploadOptions, type UploadResult } from './upload.js';
export { closeIdleConnections, httpRequest, type HttpResponse } from './http.js';
