/** `berth login [OPTIONS] [SERVER]` and the server-name normalisation shared with logout. */
import { registryHosts } from '../../image/index.js';
import { CredentialStore, RegistryClient, type Credentials } from '../../image/registry/index.js';
import { usage } from '../../lib/index.js';
import { bool, str } from '../flags.js';
import { io, print, printErr, readStdin, runCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'login',
  usage: 'berth login [OPTIONS] [SERVER]',
  description: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
  args: [0, 1],
  flags: [
    { name: 'password', short: 'p', type: 'string', help: 'Password or Personal Access Token (PAT)' },
    { name: 'password-stdin', type: 'bool', help: 'Take the Password or Personal Access Token (PAT) from stdin' },
    { name: 'username', short: 'u', type: 'string', help: 'Username' },
  ],
};

/** `https://index.docker.io/v1/`, `docker.io`, `http://host:5000/` → registry domain. */
export function registryDomain(server: string | undefined): string {
  if (!server) return 'docker.io';
  const host = server.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
  return ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host) ? 'docker.io' : host;
}

/** Read a line from the terminal; with `hidden`, without echo. */
async function prompt(question: string, hidden: boolean): Promise<string> {
  const input = io.in as NodeJS.ReadStream;
  io.out.write(question);
  const raw = hidden && typeof input.setRawMode === 'function';
  if (raw) input.setRawMode(true);
  try {
    return await new Promise<string>((resolve) => {
      let buf = '';
      const onData = (c: Buffer) => {
        for (const ch of c.toString('utf8')) {
          if (ch === '\r' || ch === '\n') { finish(); return; }
          if (ch === '\u0003') { finish(); process.kill(process.pid, 'SIGINT'); return; }
          if (ch === '\u007f') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      const finish = () => { input.off('data', onData); input.pause(); if (hidden) io.out.write('\n'); resolve(buf); };
      input.on('data', onData);
      input.resume();
    });
  } finally {
    if (raw) input.setRawMode(false);
  }
}

export async function run(argv: string[]): Promise<number> {
  return runCommand(spec, argv, async (p, ctx) => {
    const domain = registryDomain(p.args[0]);
    const store = new CredentialStore();
    let username = str(p, 'username');
    let password = str(p, 'password');
    if (password) printErr('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    if (bool(p, 'password-stdin')) {
      if (password) throw usage('login', '--password and --password-stdin are mutually exclusive');
      if (!username) throw usage('login', 'Must provide --username with --password-stdin');
      password = (await readStdin()).replace(/\r?\n$/, '');
    }
    let creds: Credentials | undefined;
    if (!username && !password) {
      const existing = await store.get(domain);
      if (existing && (existing.username || existing.identityToken)) {
        print('Authenticating with existing credentials...');
        creds = existing;
      }
    }
    if (!creds) {
      if (!username || !password) {
        if (!io.in.isTTY) throw usage('login', 'Cannot perform an interactive login from a non TTY device');
        if (!username) username = (await prompt('Username: ', false)).trim();
        if (!username) throw usage('login', 'Username is required');
        if (!password) password = await prompt('Password: ', true);
        if (!password) throw usage('login', 'Password is required');
      }
      creds = { username, password };
    }
    const client = new RegistryClient(domain, { hosts: registryHosts(ctx), credentials: { get: async () => creds } });
    await client.checkLogin();
    if (creds.username) {
      const where = await store.store(domain, creds);
      if (where === 'file') printErr(`WARNING! Your credentials are stored unencrypted in '${store.configPath}'.\nConfigure a credential helper to remove this warning.`);
    }
    print('Login Succeeded');
    return 0;
  });
}
