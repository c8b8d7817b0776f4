export * from './plan.js';
export * from './helper.js';
export * from './fsops.js';
export * from './atfs.js';
export * from './bpf.js';
export * from './proc.js';
export * from './monitor.js';
export * from './netlink.js';
