/** `berth version [OPTIONS]`: Client and Server sections, `--format {{.Server.Version}}`. */
import { API_VERSION, goArch, serverVersion } from '../../engine/index.js';
import { str } from '../flags.js';
import { io, runEngineCommand, type CommandSpec } from '../container/common.js';
import { formatOne } from './common.js';

export const spec: CommandSpec = {
  name: 'version',
  usage: 'berth version [OPTIONS]',
  description: 'Show the berth version information',
  args: [0, 0],
  flags: [{ name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" }],
};

export function clientVersion(version: string): Record<string, unknown> {
  return {
    Platform: { Name: '' }, Version: version, APIVersion: API_VERSION, DefaultAPIVersion: API_VERSION,
    NodeVersion: process.version, GitCommit: '', BuildTime: '', Os: 'linux', Arch: goArch(), Context: 'default',
  };
}

/** Docker's version template through a tabwriter (min width 20, padding 1); empty details are left out. */
export function prettyVersion(client: Record<string, unknown>, server: Record<string, unknown>): string {
  const kv = (indent: string, k: string, v: unknown) => (v === '' || v === undefined ? [] : [`${`${indent}${k}:`.padEnd(19)} ${v}`]);
  const out = [
    'Client:',
    ...kv(' ', 'Version', client.Version),
    ...kv(' ', 'API version', client.APIVersion),
    ...kv(' ', 'Node version', client.NodeVersion),
    ...kv(' ', 'Git commit', client.GitCommit),
    ...kv(' ', 'Built', client.BuildTime),
    ...kv(' ', 'OS/Arch', `${client.Os}/${client.Arch}`),
    ...kv(' ', 'Context', client.Context),
    '',
    `Server:${(server.Platform as { Name: string }).Name ? ` ${(server.Platform as { Name: string }).Name}` : ''}`,
  ];
  for (const c of server.Components as { Name: string; Version: string; Details: Record<string, string> }[]) {
    out.push(` ${c.Name}:`);
    out.push(...kv('  ', 'Version', c.Version));
    const d = c.Details;
    if (c.Name === 'Engine') {
      out.push(...kv('  ', 'API version', `${d.ApiVersion} (minimum version ${d.MinAPIVersion})`));
      out.push(...kv('  ', 'Node version', d.NodeVersion), ...kv('  ', 'Git commit', d.GitCommit), ...kv('  ', 'Built', d.BuildTime));
      out.push(...kv('  ', 'OS/Arch', `${d.Os}/${d.Arch}`), ...kv('  ', 'Experimental', d.Experimental));
    } else {
      for (const k of Object.keys(d).sort()) out.push(...kv('  ', k, d[k]));
    }
  }
  return out.join('\n') + '\n';
}

export function run(argv: string[], name = 'version'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p) => {
    const { VERSION } = await import('../commands.js');
    const v = { Client: clientVersion(VERSION), Server: serverVersion(VERSION) };
    const f = str(p, 'format');
    const out = f ? formatOne(f, v, 'version') : prettyVersion(v.Client, v.Server);
    if (typeof out === 'number') return out;
    io.out.write(out);
  });
}
