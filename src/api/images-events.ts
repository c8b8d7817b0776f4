/** Image events as moby logs them: pull/push carry the reference, the rest the image id; `name` is the reference. */
import type { ApiContext } from './http.js';

export function imageEvent(ctx: ApiContext, action: string, actorId: string, name?: string): void {
  ctx.core.store.events.append({ type: 'image', action, actorId, attributes: name ? { name } : {} });
}
