/** The route table: method, path pattern (after the version prefix), handler. */
import type { ServerResponse } from 'node:http';
import { systemInfo } from '../engine/index.js';
import * as containers from './containers.js';
import * as exec from './exec.js';
import * as images from './images.js';
import { API_VERSION, ENGINE_VERSION, MIN_API_VERSION, sendJSON, type ApiContext } from './http.js';
import { versionBody } from './version.js';

type Handler = (ctx: ApiContext, res: ServerResponse, q: URLSearchParams, m: string[]) => Promise<void> | void;
interface Route { method: string; re: RegExp; fn: Handler }

const C = '/containers/([^/]+)';
const route = (method: string, pattern: string, fn: Handler): Route => ({ method, re: new RegExp(`^${pattern}$`), fn });

export const ROUTES: Route[] = [
  route('GET', '/version', (_c, res) => sendJSON(res, 200, versionBody())),
  route('GET', '/info', async (c, res) => sendJSON(res, 200, { ...(await systemInfo(c.core, ENGINE_VERSION)), Swarm: { LocalNodeState: 'inactive' } })),
  route('POST', '/containers/create', (c, res, q) => containers.create(c, res, q)),
  route('GET', '/containers/json', (c, res, q) => containers.list(c, res, q)),
  route('GET', `${C}/json`, (c, res, _q, m) => containers.inspect(c, res, m[0]!)),
  route('POST', `${C}/start`, (c, res, _q, m) => containers.start(c, res, m[0]!)),
  route('POST', `${C}/stop`, (c, res, q, m) => containers.stop(c, res, m[0]!, q)),
  route('POST', `${C}/kill`, (c, res, q, m) => containers.kill(c, res, m[0]!, q)),
  route('POST', `${C}/restart`, (c, res, q, m) => containers.restart(c, res, m[0]!, q)),
  route('POST', `${C}/wait`, (c, res, q, m) => containers.wait(c, res, m[0]!, q)),
  route('GET', `${C}/logs`, (c, res, q, m) => containers.logs(c, res, m[0]!, q)),
  route('POST', `${C}/resize`, (c, res, _q, m) => { c.core.store.containers.get(m[0]!); res.writeHead(200, { 'Content-Length': 0 }); res.end(); }),
  route('POST', `${C}/exec`, (c, res, _q, m) => exec.create(c, res, m[0]!)),
  route('POST', '/exec/([^/]+)/start', (c, res, _q, m) => exec.startDetached(c, res, m[0]!)),
  route('POST', '/exec/([^/]+)/resize', (c, res, _q, m) => exec.resize(c, res, m[0]!)),
  route('GET', '/exec/([^/]+)/json', (c, res, _q, m) => exec.inspect(c, res, m[0]!)),
  route('DELETE', C, (c, res, q, m) => containers.remove(c, res, m[0]!, q)),
  route('GET', '/images/json', (c, res, q) => images.list(c, res, q)),
  route('POST', '/images/create', (c, res, q) => images.create(c, res, q)),
  route('GET', '/images/(.+)/json', (c, res, _q, m) => images.inspect(c, res, m[0]!)),
  route('POST', '/images/(.+)/tag', (c, res, q, m) => images.tagImage(c, res, m[0]!, q)),
  route('DELETE', '/images/(.+)', (c, res, q, m) => images.del(c, res, m[0]!, q)),
];

export { API_VERSION, MIN_API_VERSION };
