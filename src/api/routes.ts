/** The route table: method, path pattern (after the version prefix), handler. */
import { systemInfo } from '../engine/index.js';
import * as containers from './containers.js';
import * as exec from './exec.js';
import * as images from './images.js';
import { API_VERSION, ENGINE_VERSION, MIN_API_VERSION, sendJSON } from './http.js';
import { C, route, type Route } from './route.js';
import { CONTAINER_ROUTES } from './routes-containers.js';
import { IMAGE_ROUTES } from './routes-images.js';
import { SYSTEM_ROUTES } from './routes-system.js';
import { versionBody } from './version.js';

/** The core routes, then each area's table (first match wins, so an area's routes come before the catch-alls below). */
const CORE: Route[] = [
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
  route('POST', `${C}/exec`, (c, res, _q, m) => exec.create(c, res, m[0]!)),
  route('POST', '/exec/([^/]+)/start', (c, res, _q, m) => exec.startDetached(c, res, m[0]!)),
  route('POST', '/exec/([^/]+)/resize', (c, res, _q, m) => exec.resize(c, res, m[0]!)),
  route('GET', '/exec/([^/]+)/json', (c, res, _q, m) => exec.inspect(c, res, m[0]!)),
  route('GET', '/images/json', (c, res, q) => images.list(c, res, q)),
  route('POST', '/images/create', (c, res, q) => images.create(c, res, q)),
  route('GET', '/images/(.+)/json', (c, res, _q, m) => images.inspect(c, res, m[0]!)),
  route('POST', '/images/(.+)/tag', (c, res, q, m) => images.tagImage(c, res, m[0]!, q)),
];

/** Catch-all patterns last: `/images/(.+)` would swallow `/images/x/push`, say. */
const LAST: Route[] = [
  route('DELETE', C, (c, res, q, m) => containers.remove(c, res, m[0]!, q)),
  route('DELETE', '/images/(.+)', (c, res, q, m) => images.del(c, res, m[0]!, q)),
];

export const ROUTES: Route[] = [...CORE, ...CONTAINER_ROUTES, ...IMAGE_ROUTES, ...SYSTEM_ROUTES, ...LAST];

export { API_VERSION, MIN_API_VERSION };
