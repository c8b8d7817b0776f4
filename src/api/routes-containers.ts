/** Routes for containers beyond the basic lifecycle (top, pause, stats, archive, commit, prune, …). */
import type { Route } from './route.js';

export const CONTAINER_ROUTES: Route[] = [];
