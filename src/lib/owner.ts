/**
 * Naming a process for the files it leaves behind (locks, temp files, leases): `<boot>.<pid>.<start
 * time>` is unique across pid reuse and reboots, so a later process can tell whether their writer
 * still runs.
 */
import { readFileSync } from 'node:fs';
import { readSmallFile } from './fs.js';

let bootId: string | undefined;
function boot(): string {
  if (bootId === undefined) {
    try { bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8); } catch { bootId = 'noboot'; }
  }
  return bootId;
}

/** The start time of `pid` (clock ticks after boot, as /proc says it), or undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  const stat = readSmallFile(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

let self: string | undefined;
/** `<boot>.<pid>.<starttime>`: this process, unique across pid reuse and reboots. */
export function ownerTag(): string {
  return (self ??= `${boot()}.${process.pid}.${processStartTime(process.pid) ?? '0'}`);
}

/** Whether the process named by an ownerTag() still runs (`pid`, when given, must be the tag's). */
export function ownerAlive(tag: string, pid?: number): boolean {
  const [b, p, start] = tag.split('.');
  if (b !== boot() || !p || !/^\d+$/.test(p) || (pid !== undefined && p !== String(pid))) return false;
  return processStartTime(Number(p)) === start;
}
