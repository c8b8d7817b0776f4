/** `berth serve [-H unix:///PATH] [-H tcp://127.0.0.1:PORT]`: the Docker Engine API for docker, compose, docker-py, dockerode. */
import { parseHost, serve } from '../../api/index.js';
import { bool, strs } from '../flags.js';
import { io, runEngineCommand, type CommandSpec } from '../container/common.js';
import { serveCliSocket } from '../worker.js';

export const spec: CommandSpec = {
  name: 'serve',
  usage: 'berth serve [OPTIONS]',
  description: 'Serve the Docker Engine API (default unix:///run/berth/docker.sock)',
  args: [0, 0],
  flags: [
    { name: 'host', short: 'H', type: 'strings', metavar: 'list', help: 'Address to listen on: unix:///PATH or tcp://127.0.0.1:PORT (repeatable)' },
    { name: 'insecure-tcp', type: 'bool', help: 'Allow a non-loopback TCP address without TLS (anyone reaching it is root here)' },
  ],
};

export async function run(argv: string[]): Promise<number> {
  return runEngineCommand(spec, argv, async (p, core) => {
    const hosts = strs(p, 'host');
    const listen = (hosts.length ? hosts : [`unix://${core.options.runRoot}/docker.sock`]).map((h) => parseHost(h, bool(p, 'insecure-tcp')));
    const server = await serve(core, listen);
    io.err.write(`berth: API listening on ${listen.map((l) => (l.kind === 'unix' ? `unix://${l.path}` : `tcp://${l.host}:${l.port}`)).join(', ')}\n`);
    const cli = await serveCliSocket(); // the warm process the berth front hands commands to (worker.ts)
    await new Promise<void>((resolve) => {
      const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await cli?.close();
    await server.close();
    return 0;
  });
}
