/** Routes for images beyond list/pull/inspect/tag/rmi (build, push, save, load, history, import, prune). */
import { postBuild } from './build.js';
import { postAuth } from './images-auth.js';
import { distribution, imageHistory, pruneImages, search } from './images-misc.js';
import { loadImages, pushImage, saveImages } from './images-transfer.js';
import { route, type Route } from './route.js';

export const IMAGE_ROUTES: Route[] = [
  route('POST', '/build', (c, res, q) => postBuild(c, res, q)),
  route('POST', '/auth', (c, res) => postAuth(c, res)),
  route('GET', '/images/get', (c, res, q) => saveImages(c, res, q.getAll('names'))),
  route('GET', '/images/search', () => search()),
  route('POST', '/images/load', (c, res, q) => loadImages(c, res, q)),
  route('POST', '/images/prune', (c, res, q) => pruneImages(c, res, q)),
  route('GET', '/images/(.+)/get', (c, res, _q, m) => saveImages(c, res, [m[0]!])),
  route('GET', '/images/(.+)/history', (c, res, _q, m) => imageHistory(c, res, m[0]!)),
  route('POST', '/images/(.+)/push', (c, res, q, m) => pushImage(c, res, m[0]!, q)),
  route('GET', '/distribution/(.+)/json', (c, res, _q, m) => distribution(c, res, m[0]!)),
];
