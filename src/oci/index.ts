/** The OCI layer: runtime-spec and image-spec types, validation, and the tables the runtime needs. */
export * from './spec.js';
export * from './image-types.js';
export * from './schema-check.js';
export * from './validate.js';
export * from './image-validate.js';
export * from './capabilities.js';
export * from './signals.js';
export * from './constants.js';
export * from './mountopts.js';
export * from './seccomp.js';
export * from './docker-seccomp.js';
export * from './defaults.js';
export * from './features.js';
