/** Routes for images beyond list/pull/inspect/tag/rmi (build, push, save, load, history, import, prune). */
import type { Route } from './route.js';

export const IMAGE_ROUTES: Route[] = [];
