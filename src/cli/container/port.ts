/**
 * `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: a running container's published ports, as
 * Docker prints them (`80/tcp -> 0.0.0.0:8080` and `80/tcp -> [::]:8080`).
 */
import { usage } from '../../lib/index.js';
import { reconcile } from '../../engine/index.js';
import { io, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'port',
  usage: 'berth port CONTAINER [PRIVATE_PORT[/PROTO]]',
  description: 'List port mappings or a specific mapping for the container',
  args: [1, 2],
  flags: [],
};

export async function run(argv: string[], name = 'port'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const [ref, want] = p.args as [string, string | undefined];
    const c = reconcile(core, core.store.containers.get(ref));
    const running = c.state.status === 'running' || c.state.status === 'paused';
    const ports = running ? core.store.networks.portsOf(c.id) : [];
    const lines = (filter?: (key: string) => boolean, withKey = true) => {
      const out: string[] = [];
      for (const x of ports) {
        const key = `${x.containerPort}/${x.proto}`;
        if (filter && !filter(key)) continue;
        const hosts = x.hostIp === '' ? [`0.0.0.0:${x.hostPort}`, `[::]:${x.hostPort}`] : [`${x.hostIp.includes(':') ? `[${x.hostIp}]` : x.hostIp}:${x.hostPort}`];
        for (const h of hosts) out.push(withKey ? `${key} -> ${h}` : h);
      }
      return out;
    };
    if (want === undefined) {
      io.out.write(lines().map((l) => l + '\n').join(''));
      return 0;
    }
    const [port, proto = 'tcp'] = want.split('/') as [string, string?];
    if (!/^\d+$/.test(port) || Number(port) > 65535) {
      const why = /^\d+$/.test(port) ? 'value out of range' : 'invalid syntax';
      throw usage('port', `Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: ${why}`);
    }
    const found = lines((k) => k === `${Number(port)}/${proto}`, false);
    if (!found.length) throw usage('port', `Error: No public port '${port}/${proto}' published for ${ref}`);
    io.out.write(found.map((l) => l + '\n').join(''));
    return 0;
  });
}
