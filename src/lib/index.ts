export * from './errors.js';
export * from './trace.js';
