/** `events [--stats] [--interval]`: stats and OOM notifications, one JSON object per line (runc's shape). */
import { Container, type RuntimeOptions } from './container.js';

export interface RuntimeEvent { type: 'stats' | 'oom'; id: string; data?: unknown }

export function statsEvent(opts: RuntimeOptions, id: string): RuntimeEvent {
  const c = Container.load(opts, id, 'events');
  c.require('events', ['created', 'running', 'paused']);
  return { type: 'stats', id, data: c.cgroup()?.stats() ?? {} };
}

/** Emit stats every `intervalMs` and an `oom` event when the OOM-kill count grows, until the container stops. */
export async function follow(opts: RuntimeOptions, id: string, intervalMs: number, emit: (e: RuntimeEvent) => void): Promise<void> {
  const c = Container.load(opts, id, 'events');
  c.require('events', ['created', 'running', 'paused']);
  const cg = c.cgroup();
  let ooms = cg?.oomKillCount() ?? 0;
  let last = 0;
  while (c.alive()) {
    const n = cg?.oomKillCount() ?? 0;
    if (n > ooms) { ooms = n; emit({ type: 'oom', id }); }
    if (Date.now() - last >= intervalMs) { last = Date.now(); emit({ type: 'stats', id, data: cg?.stats() ?? {} }); }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, 200)));
  }
}
