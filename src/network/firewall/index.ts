/** The firewall of berth's network room: the `inet berth` nftables table (see docs/firewall.md). */
export { Firewall } from './firewall.js';
export type { FirewallOptions } from './firewall.js';
export { NftError } from './nft.js';
export type { FwNetwork, FwPort, FwProto, FwState, FwListing, FwPortElement } from './types.js';
export { FAMILY as FW_FAMILY, TABLE as FW_TABLE, USER_CHAIN as FW_USER_CHAIN } from './rules.js';
