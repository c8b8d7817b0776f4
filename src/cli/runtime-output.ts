/** Output helpers for berth-runtime: aligned tables and `ps` filtering. */
import { spawnSync } from 'node:child_process';

export function printTable(header: string[], rows: string[][]): void {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const out = all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')).join('\n');
  process.stdout.write(out + '\n');
}

/** Run the host's ps with `psArgs` (default -ef) and keep the header and the container's processes. */
export function runPs(pids: number[], psArgs: string[]): number {
  const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
  if (r.status !== 0) { process.stderr.write(r.stderr); return 1; }
  const lines = r.stdout.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) { process.stderr.write('berth-runtime: ps: no PID column in the output of ps\n'); return 1; }
  const want = new Set(pids);
  const keep = lines.slice(1).filter((l) => l.trim() && want.has(Number(l.trim().split(/\s+/)[col])));
  process.stdout.write([header, ...keep].join('\n') + '\n');
  return 0;
}
