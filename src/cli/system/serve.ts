/** `berth serve [-H unix:///PATH] [-H tcp://HOST:PORT] [--tlsverify …]`: the Docker Engine API for docker, compose, docker-py, dockerode. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseHost, serve } from '../../api/index.js';
import { bool, str, strs } from '../flags.js';
import { io, runEngineCommand, type CommandSpec } from '../container/common.js';
import { serveCliSocket } from '../worker.js';

export const spec: CommandSpec = {
  name: 'serve',
  usage: 'berth serve [OPTIONS]',
  description: 'Serve the Docker Engine API (default unix:///run/berth/docker.sock)',
  args: [0, 0],
  flags: [
    { name: 'host', short: 'H', type: 'strings', metavar: 'list', help: 'Address to listen on: unix:///PATH or tcp://HOST:PORT (repeatable)' },
    { name: 'group', short: 'G', type: 'string', metavar: 'string', help: 'Group of the unix sockets (default "docker" when it exists, else the sockets are 0600)' },
    { name: 'tls', type: 'bool', help: 'Use TLS on TCP listeners; implied by --tlsverify' },
    { name: 'tlsverify', type: 'bool', help: 'Use TLS and require client certificates signed by --tlscacert' },
    { name: 'tlscacert', type: 'string', metavar: 'string', help: 'Trust certs signed only by this CA (default "~/.docker/ca.pem")' },
    { name: 'tlscert', type: 'string', metavar: 'string', help: 'Path to the TLS certificate file (default "~/.docker/cert.pem")' },
    { name: 'tlskey', type: 'string', metavar: 'string', help: 'Path to the TLS key file (default "~/.docker/key.pem")' },
    { name: 'insecure-tcp', type: 'bool', help: 'Allow a non-loopback TCP address without TLS (anyone reaching it is root here)' },
  ],
};

export async function run(argv: string[]): Promise<number> {
  return runEngineCommand(spec, argv, async (p, core) => {
    const certDir = process.env.DOCKER_CERT_PATH || join(homedir(), '.docker');
    const verify = bool(p, 'tlsverify');
    const tls = verify || bool(p, 'tls') || p.set.has('tlscert')
      ? { verify, ca: str(p, 'tlscacert') || join(certDir, 'ca.pem'), cert: str(p, 'tlscert') || join(certDir, 'cert.pem'), key: str(p, 'tlskey') || join(certDir, 'key.pem') }
      : undefined;
    const hosts = strs(p, 'host');
    const listen = (hosts.length ? hosts : [`unix://${core.options.runRoot}/docker.sock`]).map((h) => parseHost(h, !!tls || bool(p, 'insecure-tcp')));
    for (const l of listen) {
      if (l.kind === 'tcp' && !l.loopback && !tls) io.err.write(`berth: WARNING: API listening on tcp://${l.host}:${l.port} without TLS: anyone who reaches it is root on this machine\n`);
      else if (l.kind === 'tcp' && !l.loopback && !verify) io.err.write(`berth: WARNING: API listening on tcp://${l.host}:${l.port} without --tlsverify: any client is accepted\n`);
    }
    const server = await serve(core, listen, { tls, group: p.set.has('group') ? str(p, 'group') : undefined });
    const cli = await serveCliSocket(); // the warm process the berth front hands commands to (worker.ts)
    // one bad request must not take the server (and every client's stream) down
    const internal = (err: unknown) => io.err.write(`berth serve: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.on('uncaughtException', internal);
    process.on('unhandledRejection', internal);
    // the signal handlers first: whoever reads the line below may stop us at once
    const stopped = new Promise<void>((resolve) => {
      const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    io.err.write(`berth: API listening on ${listen.map((l) => (l.kind === 'unix' ? `unix://${l.path}` : `tcp://${l.host}:${l.port}${tls ? ' (TLS)' : ''}`)).join(', ')}\n`);
    await stopped;
    await cli?.close();
    await server.close();
    return 0;
  });
}
