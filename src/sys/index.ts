export * from './plan.js';
export * from './helper.js';
