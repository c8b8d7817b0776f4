/** The container state machine: which status may follow which (everything else is refused). */
import { conflict } from '../../lib/index.js';
import type { ContainerStatus } from './types.js';

export const CONTAINER_STATUSES: readonly ContainerStatus[] = [
  'created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead',
];

/**
 * Allowed transitions. `removing` may go back to any earlier status (a failed removal is rolled
 * back) or to `dead` (Docker marks a container dead when its removal fails half-way).
 */
export const TRANSITIONS: Readonly<Record<ContainerStatus, readonly ContainerStatus[]>> = {
  created: ['running', 'removing', 'dead'],
  running: ['paused', 'restarting', 'exited', 'removing', 'dead'],
  paused: ['running', 'restarting', 'exited', 'removing', 'dead'],
  // restarting: exited, waiting for its restart policy's back-off; its restarter starts it (running),
  // a user's stop or kill cancels that (exited)
  restarting: ['running', 'exited', 'removing', 'dead'],
  exited: ['running', 'restarting', 'removing', 'dead'],
  removing: ['created', 'running', 'paused', 'exited', 'dead'],
  dead: ['removing'],
};

/** Statuses that count as "running" for Docker (State.Running is true). */
export const RUNNING_STATUSES: readonly ContainerStatus[] = ['running', 'paused', 'restarting'];

/** Statuses a container may be deleted from. */
export const REMOVABLE_STATUSES: readonly ContainerStatus[] = ['created', 'exited', 'dead', 'removing'];

export function isStatus(s: string): s is ContainerStatus {
  return (CONTAINER_STATUSES as readonly string[]).includes(s);
}

export function canTransition(from: ContainerStatus, to: ContainerStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function checkTransition(op: string, id: string, from: ContainerStatus, to: ContainerStatus): void {
  if (!canTransition(from, to)) {
    throw conflict(op, `${op} ${id.slice(0, 12)}: invalid state transition from ${from} to ${to}`);
  }
}
