/** Routes for containers beyond the basic lifecycle (top, pause, stats, archive, commit, prune, …). */
import { plainAttach } from './attach.js';
import { resizeContainer } from './containers-tty.js';
import { C, route, type Route } from './route.js';

export const CONTAINER_ROUTES: Route[] = [
  route('POST', `${C}/attach`, (c, res, q, m) => plainAttach(c, res, m[0]!, q)),
  route('POST', `${C}/resize`, (c, res, q, m) => resizeContainer(c, res, m[0]!, q)),
];
