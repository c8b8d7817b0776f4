export * from './records.js';
export * from './plan.js';
export * from './attach.js';
export * from './manage.js';
export * from './shape.js';
