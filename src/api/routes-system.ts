/** Routes for networks, volumes, events, system df, prune and the swarm stubs. */
import * as events from './events.js';
import { sendJSON } from './http.js';
import * as networks from './networks.js';
import { route, type Route } from './route.js';
import * as system from './system.js';
import * as volumes from './volumes.js';

const N = '/networks/([^/]+)';
const V = '/volumes/([^/]+)';
const SWARM = '/(?:swarm|nodes|services|tasks|secrets|configs)(?:/.*)?';

export const SYSTEM_ROUTES: Route[] = [
  route('GET', '/networks', (c, res, q) => networks.list(c, res, q)),
  route('POST', '/networks/create', (c, res) => networks.create(c, res)),
  route('POST', '/networks/prune', (c, res, q) => networks.prune(c, res, q)),
  route('POST', `${N}/connect`, (c, res, _q, m) => networks.connect(c, res, m[0]!)),
  route('POST', `${N}/disconnect`, (c, res, _q, m) => networks.disconnect(c, res, m[0]!)),
  route('GET', N, (c, res, q, m) => networks.inspect(c, res, m[0]!, q)),
  route('DELETE', N, (c, res, _q, m) => networks.remove(c, res, m[0]!)),
  route('GET', '/volumes', (c, res, q) => volumes.list(c, res, q)),
  route('POST', '/volumes/create', (c, res) => volumes.create(c, res)),
  route('POST', '/volumes/prune', (c, res, q) => volumes.prune(c, res, q)),
  route('GET', V, (c, res, _q, m) => volumes.inspect(c, res, m[0]!)),
  route('DELETE', V, (c, res, q, m) => volumes.remove(c, res, m[0]!, q)),
  route('GET', '/events', (c, res, q) => events.events(c, res, q)),
  route('GET', '/system/df', (c, res, q) => system.df(c, res, q)),
  route('POST', '/build/prune', (c, res) => system.buildPrune(c, res)),
  route('POST', '/swarm/(?:init|join)', (_c, res) => sendJSON(res, 503, { message: 'swarm mode is not supported by berth' })),
  ...['GET', 'POST', 'DELETE'].map((m) => route(m, SWARM, system.noSwarm)),
];
