/** The network room: records, addresses, ports, wiring steps and the kernel side of networks. */
export * from './types.js';
export * from './addr.js';
export * from './ipam.js';
export * from './ports.js';
export * from './wiring.js';
export * from './room.js';
export * from './firewall/index.js';
export * from './dns/index.js';
