/**
 * TypeScript types for the OCI image specification v1.1.1 (descriptor, manifest, index, image
 * config, oci-layout) and the media types of specs-go/v1/mediatype.go, plus the Docker schema 2
 * equivalents an engine meets when pulling (image-spec media-types.md compatibility matrix).
 */

export const MediaType = {
  Descriptor: 'application/vnd.oci.descriptor.v1+json',
  LayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  ImageIndex: 'application/vnd.oci.image.index.v1+json',
  ImageManifest: 'application/vnd.oci.image.manifest.v1+json',
  ImageConfig: 'application/vnd.oci.image.config.v1+json',
  EmptyJSON: 'application/vnd.oci.empty.v1+json',
  ImageLayer: 'application/vnd.oci.image.layer.v1.tar',
  ImageLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ImageLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Deprecated. */
  ImageLayerNonDistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  /** Deprecated. */
  ImageLayerNonDistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  /** Deprecated. */
  ImageLayerNonDistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

export const DockerMediaType = {
  ManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  Manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  Config: 'application/vnd.docker.container.image.v1+json',
  LayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** The content of the `{}` blob that `application/vnd.oci.empty.v1+json` descriptors point to. */
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** base64 of the content, when embedded. */
  data?: string;
  artifactType?: string;
  /** Only in index manifests entries. */
  platform?: Platform;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The runtime part of an image config (`config` member). Docker-only fields are optional extras. */
export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  /** Windows only, deprecated. */
  ArgsEscaped?: boolean;
  // Docker extensions
  Healthcheck?: {
    Test?: string[];
    Interval?: number;
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  };
  OnBuild?: string[] | null;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  author?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ImageRuntimeConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

/** The `oci-layout` file of an image layout directory. */
export interface ImageLayout {
  imageLayoutVersion: '1.0.0';
}

/** Well-known annotation keys (image-spec annotations.md). */
export const Annotation = {
  Created: 'org.opencontainers.image.created',
  Authors: 'org.opencontainers.image.authors',
  URL: 'org.opencontainers.image.url',
  Documentation: 'org.opencontainers.image.documentation',
  Source: 'org.opencontainers.image.source',
  Version: 'org.opencontainers.image.version',
  Revision: 'org.opencontainers.image.revision',
  Vendor: 'org.opencontainers.image.vendor',
  Licenses: 'org.opencontainers.image.licenses',
  RefName: 'org.opencontainers.image.ref.name',
  Title: 'org.opencontainers.image.title',
  Description: 'org.opencontainers.image.description',
  BaseImageDigest: 'org.opencontainers.image.base.digest',
  BaseImageName: 'org.opencontainers.image.base.name',
} as const;
