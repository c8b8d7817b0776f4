/** Embedded DNS (docs/PLAN.md, Monitor mode `dns`): the files the engine writes for the monitors. */
export {
  type DnsConfig, type DnsRecord, formatDnsConfig, formatDnsTable, normalizeName, normalizeUpstream,
  parseDnsConfig, parseDnsTable, sweepTemps, upstreamsFromResolvConf, writeAtomic, writeDnsConfig, writeDnsTable,
} from './files.js';
