/** The engine's image use cases (src/engine/images.ts) record the events; the API gives them its images and event log. */
import type { ImageContext } from '../image/index.js';
import type { ImageTarget } from '../engine/index.js';
import type { ApiContext } from './http.js';

/** The request's images (or `images`, e.g. with the request's registry auth) and the engine's event log. */
export function imageTarget(ctx: ApiContext, images: ImageContext = ctx.core.images): ImageTarget {
  return { images, events: ctx.core.store.events };
}
