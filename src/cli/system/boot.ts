/**
 * `berth system boot`: start, after the machine booted, the containers whose restart policy asks
 * for it (what dockerd does when it starts; podman's restart service). Run once at boot by
 * contrib/systemd/berth-boot.service; safe to run again (running containers are left alone).
 */
import { bootContainers } from '../../engine/index.js';
import { print, printErr, runEngineCommand, type CommandSpec } from '../container/common.js';

export const spec: CommandSpec = {
  name: 'system boot',
  usage: 'berth system boot',
  description: 'Start the containers a restart policy brings back after a reboot',
  args: [0, 0],
  flags: [],
};

export function run(argv: string[], name = 'system boot'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (_p, core) => {
    const r = await bootContainers(core);
    for (const c of r.started) print(c.name);
    for (const f of r.failed) printErr(`Error response from daemon: failed to start container ${f.container.name}: ${f.error.message}`);
    return r.failed.length ? 1 : 0;
  });
}
