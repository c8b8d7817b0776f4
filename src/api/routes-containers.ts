/** Routes for containers beyond the basic lifecycle (top, pause, stats, archive, commit, prune, …). */
import { plainAttach } from './attach.js';
import { getArchive, putArchive, statArchive } from './containers-archive.js';
import * as ops from './containers-ops.js';
import { stats } from './containers-stats.js';
import { resizeContainer } from './containers-tty.js';
import { C, route, type Route } from './route.js';

export const CONTAINER_ROUTES: Route[] = [
  route('POST', `${C}/attach`, (c, res, q, m) => plainAttach(c, res, m[0]!, q)),
  route('POST', `${C}/resize`, (c, res, q, m) => resizeContainer(c, res, m[0]!, q)),
  route('HEAD', `${C}/archive`, (c, res, q, m) => statArchive(c, res, m[0]!, q)),
  route('GET', `${C}/archive`, (c, res, q, m) => getArchive(c, res, m[0]!, q)),
  route('PUT', `${C}/archive`, (c, res, q, m) => putArchive(c, res, m[0]!, q)),
  route('GET', `${C}/top`, (c, res, q, m) => ops.top(c, res, m[0]!, q)),
  route('POST', `${C}/pause`, (c, res, _q, m) => ops.pause(c, res, m[0]!)),
  route('POST', `${C}/unpause`, (c, res, _q, m) => ops.unpause(c, res, m[0]!)),
  route('POST', `${C}/rename`, (c, res, q, m) => ops.rename(c, res, m[0]!, q)),
  route('POST', `${C}/update`, (c, res, _q, m) => ops.update(c, res, m[0]!)),
  route('GET', `${C}/changes`, (c, res, _q, m) => ops.changes(c, res, m[0]!)),
  route('GET', `${C}/export`, (c, res, _q, m) => ops.exportTar(c, res, m[0]!)),
  route('GET', `${C}/stats`, (c, res, q, m) => stats(c, res, m[0]!, q)),
  route('POST', '/commit', (c, res, q) => ops.commit(c, res, q)),
  route('POST', '/containers/prune', (c, res, q) => ops.prune(c, res, q)),
];
