/** The system commands: `volume`, `system`, `info`, `version`, `events` (each `(argv) => exit status`). */
import { dispatch, type Sub } from './common.js';

export async function volume(argv: string[]): Promise<number> {
  return (await import('./volume.js')).run(argv);
}

export async function network(argv: string[]): Promise<number> {
  return (await import('./network.js')).run(argv);
}

export async function info(argv: string[], name = 'info'): Promise<number> {
  return (await import('./info.js')).run(argv, name);
}

export async function version(argv: string[], name = 'version'): Promise<number> {
  return (await import('./version.js')).run(argv, name);
}

export async function events(argv: string[], name = 'events'): Promise<number> {
  return (await import('./events.js')).run(argv, name);
}

const df: Sub = async (a, n) => (await import('./df.js')).run(a, n);
const prune: Sub = async (a, n) => (await import('./prune.js')).run(a, n);
const boot: Sub = async (a, n) => (await import('./boot.js')).run(a, n);

const SUBS: Record<string, [string, Sub]> = {
  boot: ['Start the containers a restart policy brings back after a reboot', boot],
  df: ['Show berth disk usage', df],
  events: ['Get real time events from the server', events],
  info: ['Display system-wide information', info],
  prune: ['Remove unused data', prune],
};

/** `berth system COMMAND`. */
export function system(argv: string[]): Promise<number> {
  return dispatch('system', 'Manage berth', SUBS, {}, argv);
}
