/** Throwaway network namespaces for the network tests (never the machine's own network). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A throwaway netns with lo up; removed by the returned function. */
export function tempNetns(): { name: string; path: string; remove: () => void } {
  const name = `berth-t-${randomBytes(4).toString('hex')}`;
  const r = spawnSync('ip', ['netns', 'add', name]);
  assert.equal(r.status, 0, `ip netns add ${name}: ${r.stderr}`);
  spawnSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/run/netns/${name}`, remove: () => { spawnSync('ip', ['netns', 'del', name]); } };
}

export function inNs(ns: string, cmd: string[]): { status: number; out: string } {
  const r = spawnSync('nsenter', [`--net=/run/netns/${ns}`, ...cmd], { encoding: 'utf8', timeout: 10000 });
  return { status: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

