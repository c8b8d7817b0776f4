/** A route: method, path pattern (after the version prefix), handler. Each area of the API keeps its own table. */
import type { ServerResponse } from 'node:http';
import type { ApiContext } from './http.js';

export type Handler = (ctx: ApiContext, res: ServerResponse, q: URLSearchParams, m: string[]) => Promise<void> | void;
export interface Route { method: string; re: RegExp; fn: Handler }

/** `/containers/{id}` as a pattern group. */
export const C = '/containers/([^/]+)';
export const route = (method: string, pattern: string, fn: Handler): Route => ({ method, re: new RegExp(`^${pattern}$`), fn });
