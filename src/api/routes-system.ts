/** Routes for networks, volumes, events, system df, prune and the swarm stubs. */
import type { Route } from './route.js';

export const SYSTEM_ROUTES: Route[] = [];
