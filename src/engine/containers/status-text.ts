/** Docker's words for time spans and a container's Status column (`docker ps`, `GET /containers/json`). */
import type { Container } from '../store/index.js';

/** Docker's `units.HumanDuration`. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(ms / 3600_000);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(ms / 3600_000 / 24 / 365)} years`;
}

const ago = (iso: string | null | undefined) => (iso ? humanDuration(Date.now() - Date.parse(iso)) : '');

/** Docker's Status column (without the health suffix). */
export function statusText(c: Container): string {
  const s = c.state;
  switch (s.status) {
    case 'running': return `Up ${ago(s.startedAt)}`;
    case 'paused': return `Up ${ago(s.startedAt)} (Paused)`;
    case 'restarting': return `Restarting (${s.exitCode}) ${ago(s.finishedAt)} ago`;
    case 'exited': return s.finishedAt ? `Exited (${s.exitCode}) ${ago(s.finishedAt)} ago` : 'Created';
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
    default: return 'Created';
  }
}
