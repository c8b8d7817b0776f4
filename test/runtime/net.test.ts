/**
 * The runtime's `netSteps`: a container's own network wiring done inside its start by the helper
 * (parent steps after the clone, child steps before pivot_root), with no extra process. The
 * "host" is a throwaway network namespace per test; the container gets a new one as usual.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/lib/index.js';
import { run, del, state, type RuntimeOptions } from '../../src/runtime/index.js';
import { netStep as n, runNetSteps, type NetSteps } from '../../src/sys/index.js';
import { makeBundle, uniqueId } from '../helpers/bundle.js';
import { tempNetns, inNs } from '../sys/netlink-ns.js';

let work: string;
let opts: RuntimeOptions;
let host: ReturnType<typeof tempNetns>;
let bundle: string;
let sleeper: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-net-'));
  opts = { root: join(work, 'state') };
  host = tempNetns();
  await runNetSteps([n.netns(host.path), n.bridge('brt'), n.addr('brt', '10.77.0.1/24')], 'host bridge');
  bundle = makeBundle(join(work, 'true'), { process: { args: ['/bin/true'] } }).dir;
  // detached: the container lets go of our stdio at once
  sleeper = makeBundle(join(work, 'sleep'), { process: { args: ['/bin/sh', '-c', 'exec sleep 1000 </dev/null >/dev/null 2>&1'] } }).dir;
});
after(() => { host.remove(); rmSync(work, { recursive: true, force: true }); });

let k = 0;
/** The wiring of one container on brt: a veth into it, its address and default route. */
function wiring(ip: string): { veth: string; steps: NetSteps } {
  const veth = `vt${process.pid % 10000}x${k++}`;
  return {
    veth,
    steps: {
      parent: [n.netns(host.path), n.veth(veth, 'eth0', 'child'), n.master(veth, 'brt'), n.up(veth)],
      child: [n.up('eth0'), n.addr('eth0', `${ip}/24`), n.route('default', '10.77.0.1')],
    },
  };
}

const hostLinks = () => inNs(host.name, ['ip', '-o', 'link', 'show']).out;

async function gone(veth: string, ms: number): Promise<boolean> {
  for (let t = 0; t < ms; t += 20) {
    if (!hostLinks().includes(`${veth}@`)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

test('a container launched with netSteps is reachable from its host netns', async () => {
  const id = uniqueId('net');
  const w = wiring('10.77.0.2');
  await run(opts, { id, bundle: sleeper, detach: true, netSteps: w.steps });
  try {
    assert.match(hostLinks(), new RegExp(`${w.veth}@.*master brt`));
    const p = inNs(host.name, ['busybox', 'ping', '-c', '1', '-W', '2', '10.77.0.2']);
    assert.equal(p.status, 0, p.out);
    // the helper went back to its own netns before releasing the container: its wiring is in
    // the container's netns, and the helper's other work (none here) ran at home
  } finally {
    await del(opts, id, true);
  }
  assert.ok(await gone(w.veth, 3000), 'the veth goes with the container\'s netns');
});

test('the helper parent goes back to its own netns before it releases the container', async () => {
  const id = uniqueId('netp');
  const w = wiring('10.77.0.5');
  // foreground: the helper stays the container's parent (wait_exit) and can be looked at
  const running = run(opts, { id, bundle: sleeper, netSteps: w.steps });
  let pid = 0;
  for (let i = 0; i < 500 && !pid; i++) {
    try { const st = state(opts, id); if (st.status === 'running') pid = st.pid ?? 0; } catch { /* not yet */ }
    if (!pid) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(pid > 0, 'the container runs');
  try {
    const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    assert.equal(readlinkSync(`/proc/${ppid}/ns/net`), readlinkSync('/proc/self/ns/net'), 'the helper is back in its own netns');
    assert.notEqual(readlinkSync(`/proc/${pid}/ns/net`), readlinkSync(`/proc/${ppid}/ns/net`));
    assert.equal(inNs(host.name, ['busybox', 'ping', '-c', '1', '-W', '2', '10.77.0.5']).status, 0);
  } finally {
    process.kill(pid, 'SIGKILL');
    assert.equal(await running, 137);
  }
});

test('a failing parent step aborts the start and leaves no veth on the host', async () => {
  const id = uniqueId('netf');
  const veth = `vf${process.pid % 10000}p`;
  const e = await run(opts, {
    id, bundle: sleeper, detach: true,
    netSteps: { parent: [n.netns(host.path), n.veth(veth, 'eth0', 'child'), n.up(veth), n.master(veth, 'nobridge')], child: [] },
  }).then(() => null, (x: unknown) => x);
  assert.ok(e instanceof BerthError, 'run fails');
  assert.match(e.message, new RegExp(`attach ${veth} to nobridge: No such device`));
  assert.equal(e.step, 'link_master');
  assert.ok(!hostLinks().includes(`${veth}@`), 'the host end was deleted before the error was reported');
  assert.ok(!existsSync(join(opts.root, id)), 'no container state is left');
});

test('a failing child step aborts the start; the host end of its veth goes with the netns', async () => {
  const id = uniqueId('netc');
  const w = wiring('10.77.0.3');
  w.steps.child.push(n.addr('eth9', '10.77.0.4/24'));
  const e = await run(opts, { id, bundle: sleeper, detach: true, netSteps: w.steps }).then(() => null, (x: unknown) => x);
  assert.ok(e instanceof BerthError, 'run fails');
  assert.match(e.message, /add address 10\.77\.0\.4\/24 to eth9: No such device/);
  assert.ok(await gone(w.veth, 3000), `no ${w.veth} left on the host`);
  assert.deepEqual(readdirSync(opts.root).filter((d) => d === id), []);
});

test('cost of the hook on a runtime run (measured, not asserted)', async (t) => {
  const time = async (withNet: boolean): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < 3; i++) {
      const o = { id: uniqueId('netm'), bundle, ...(withNet ? { netSteps: wiring(`10.77.0.${100 + (k % 100)}`).steps } : {}) };
      const t0 = performance.now();
      const code = await run(opts, o);
      out.push(performance.now() - t0);
      assert.equal(code, 0);
    }
    return out;
  };
  await time(false); // warm up
  const none: number[] = [], wired: number[] = [];
  for (let i = 0; i < 4; i++) { none.push(...await time(false)); wired.push(...await time(true)); }
  const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
  t.diagnostic(`run /bin/true, new netns + lo: median ${med(none).toFixed(1)} ms; with veth+master+up (parent) and up+addr+route (child): median ${med(wired).toFixed(1)} ms (${none.length} runs each, interleaved)`);
});
