/**
 * `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`. berth publishes no ports yet (its network
 * modes are none, host and container:), so a container has no mappings: nothing is printed for
 * it, and asking for one port gives Docker's "No public port" error.
 */
import { usage } from '../../lib/index.js';
import { runEngineCommand, type CommandSpec } from './common.js';

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
    core.store.containers.get(ref);
    if (want === undefined) return 0;
    const port = want.split('/')[0]!;
    if (!/^\d+$/.test(port) || Number(port) > 65535) {
      const why = /^\d+$/.test(port) ? 'value out of range' : 'invalid syntax';
      throw usage('port', `Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: ${why}`);
    }
    throw usage('port', `Error: No public port '${want}' published for ${ref}`);
  });
}
