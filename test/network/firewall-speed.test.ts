/**
 * The cost of the firewall's calls (addPorts is on `run -d`'s path): measured in a throwaway
 * namespace and reported as diagnostics, never asserted (timings are for bench/, not tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

test('cost of addNetwork, addPorts (1 and 100 ports), removePorts, reload (diagnostics)', (t) => {
  const ns = `berth-t-fwspeed${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'fw-speed.js');
    const out = execFileSync('nsenter', [`--net=/run/netns/${ns}`, process.execPath, script], { encoding: 'utf8' });
    const r = JSON.parse(out) as Record<string, number>;
    for (const [k, v] of Object.entries(r)) t.diagnostic(`${k}: ${v} ms`);
    assert.ok(r.addPorts100! > 0);
    const left = execFileSync('nsenter', [`--net=/run/netns/${ns}`, 'nft', 'list', 'table', 'inet', 'berth'], { encoding: 'utf8' });
    assert.doesNotMatch(left, /brs0|brs8/); // removed networks leave no chains or elements
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});
