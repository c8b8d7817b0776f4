export * from './errors.js';
export * from './trace.js';
export * from './fs.js';
export { sqliteBinding } from './sqlite.js';
export * from './owner.js';
export * from './detach-keys.js';
export * from './zlib.js';
export * from './streams.js';
