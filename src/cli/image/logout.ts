/** `berth logout [SERVER]` */
import { CredentialStore, serverKey } from '../../image/registry/index.js';
import { print, runCommand, type CommandSpec } from './common.js';
import { registryDomain } from './login.js';

export const spec: CommandSpec = {
  name: 'logout',
  usage: 'berth logout [SERVER]',
  description: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  args: [0, 1],
  flags: [],
};

export async function run(argv: string[]): Promise<number> {
  return runCommand(spec, argv, async (p) => {
    const domain = registryDomain(p.args[0]);
    const store = new CredentialStore();
    if (await store.erase(domain)) print(`Removing login credentials for ${serverKey(domain)}`);
    else print(`Not logged in to ${serverKey(domain)}`);
    return 0;
  });
}
