/**
 * Fault injection for the container lifecycle: `kill -9` of a berth process at a random moment
 * (seeded, so that a failure can be replayed with the same seed), then the checks that every
 * container's record tells the truth (record running ⇔ its init or a process of its cgroup is
 * alive, and running only under a live monitor), that `rm -f` removes it, and that nothing of it
 * stays (mounts under the roots, cgroup directories of every hierarchy, lock, run directory,
 * runtime state, data directory, writable snapshot).
 * Used by test/cli/fault-kill.test.ts (a few kills per victim) and bench/soak.ts (hundreds).
 *
 * Victims: the CLI during `run` (attached), `run -d`, `start`, `stop`, `rm -f`; a container's
 * monitor (of a detached or attached container, or the helper while it becomes one during
 * `run -d`); a `berth worker` serving a `run -d` (through the native front).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { snapshotter } from '../../src/image/index.js';
import type { Cli } from '../cli/run-util.js';
import { alive, cgroupPids, leaks } from './leaks.js';
import { FRONT, startWorker } from './worker.js';

export const VICTIMS = ['run', 'run-d', 'start', 'stop', 'rm', 'monitor', 'worker'] as const;
export type Victim = typeof VICTIMS[number];

/** BERTH_FAULT_SEED or a fresh one (the tests print it, so a failure can be replayed). */
export function faultSeed(): number {
  const env = process.env.BERTH_FAULT_SEED;
  return env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}

/** mulberry32: a small seeded generator, floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Counts {
  /** kill -9 sent to a process that was still alive */
  kills: number;
  /** the victim had finished before its kill (nothing killed) */
  missed: number;
  /** container records compared with the kernel */
  checked: number;
  /** a record and the kernel disagreeing (after a second look 500 ms later) */
  lies: string[];
  /** disagreements that a second look no longer saw (a process still settling) */
  transient: number;
  /** what rm -f left */
  leaks: string[];
  /** commands that failed (rm -f, setup) */
  failures: string[];
}

export function newCounts(): Counts {
  return { kills: 0, missed: 0, checked: 0, lies: [], transient: 0, leaks: [], failures: [] };
}

export function summary(c: Counts): string {
  return `kills tried ${c.kills} (+${c.missed} finished first), states checked ${c.checked}, lies ${c.lies.length} (transient ${c.transient}), leaks ${c.leaks.length}, failures ${c.failures.length}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function closed(p: ChildProcess): Promise<void> {
  return new Promise((r) => { if (p.exitCode !== null || p.signalCode !== null) r(); else p.once('close', () => r()); });
}

/** Kill `p` (SIGKILL) after `ms` unless it finished first; true when it was killed. */
async function killAfter(p: ChildProcess, ms: number, victim: ChildProcess = p): Promise<boolean> {
  p.stdout?.resume();
  p.stderr?.resume();
  p.stdin?.on('error', () => undefined);
  const done = closed(p);
  await Promise.race([sleep(ms), done]);
  const live = victim.exitCode === null && victim.signalCode === null;
  if (live) victim.kill('SIGKILL');
  await done;
  return live;
}

/** Child processes of `pid` (the helper a CLI spawned). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

/** The init of the container per the runtime's state (pid + start time), alive. */
function initAlive(runRoot: string, id: string): boolean {
  let st: { pid: number; startTime: number };
  try { st = JSON.parse(readFileSync(`${runRoot}/runtime/${id}/state.json`, 'utf8')); } catch { return false; }
  if (!alive(st.pid)) return false;
  try {
    const s = readFileSync(`/proc/${st.pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]) === st.startTime;
  } catch { return false; }
}

/** Anything of the container alive in the kernel. */
export function kernelRunning(runRoot: string, id: string): boolean {
  return initAlive(runRoot, id) || cgroupPids(id).some(alive);
}

/** Entries named after a container left in the roots (run dirs, locks, runtime state, data dirs). */
export function strays(c: Cli): string[] {
  const out: string[] = [];
  const ls = (d: string) => { try { return readdirSync(d); } catch { return []; } };
  for (const n of ls(c.runRoot)) if (/^[0-9a-f]{64}(\.lock)?$/.test(n)) out.push(`path ${c.runRoot}/${n}`);
  for (const n of ls(`${c.runRoot}/runtime`)) out.push(`path ${c.runRoot}/runtime/${n}`);
  for (const n of ls(`${c.root}/containers`)) out.push(`path ${c.root}/containers/${n}`);
  return out;
}

export class FaultRun {
  readonly counts = newCounts();
  /** ids of the current trial's containers */
  private seen = new Set<string>();
  private reported = new Set<string>();

  constructor(readonly c: Cli, readonly rand: () => number, readonly log: (line: string) => void = () => undefined) {}

  private ms(lo: number, hi: number): number { return Math.round(lo + (hi - lo) * this.rand()); }

  private durations = new Map<Victim, number>();

  /** How long the victim's command takes here, unkilled (once): kills fall within 15–105 % of it. */
  private async window(v: Victim): Promise<[number, number]> {
    let t = this.durations.get(v);
    if (t === undefined) {
      const name = `fk-cal-${v}`;
      const sleeper = ['busybox', 'sleep', '1000'];
      const timed = async (f: () => Promise<unknown>) => { const t0 = Date.now(); await f(); return Date.now() - t0; };
      if (v === 'start') {
        const id = await this.setup(['create', '--name', name, ...sleeper]);
        t = await timed(() => this.setup(['start', id]));
      } else if (v === 'stop' || v === 'rm') {
        const id = await this.setup(['run', '-d', '--name', name, ...sleeper]);
        t = await timed(() => this.setup(v === 'stop' ? ['stop', '-t', '1', id] : ['rm', '-f', id]));
      } else if (v === 'worker') {
        const w = await startWorker(this.c.env, `${this.c.runRoot}/fk-cal.sock`);
        t = await timed(() => closed(spawn(FRONT, ['run', '-d', '--name', name, ...sleeper], { env: w.env, stdio: 'ignore' })));
        await w.stop();
      } else {
        t = await timed(() => this.setup(['run', '-d', '--name', name, ...sleeper]));
      }
      await this.c.berth(['rm', '-f', name]);
      this.durations.set(v, t);
      this.log(`${v}: takes ${t} ms unkilled`);
    }
    return [Math.round(0.15 * t), Math.round(1.05 * t)];
  }

  private async setup(args: string[]): Promise<string> {
    const r = await this.c.berth(args);
    if (r.code !== 0) throw new Error(`setup: berth ${args.join(' ')}: exit ${r.code}: ${r.err}`);
    const out = r.out.trim();
    if (/^[0-9a-f]{64}$/.test(out)) this.seen.add(out);
    return out;
  }

  private monitorPid(id: string): number {
    return this.c.core.store.containers.find(id)?.state.monitorPid ?? 0;
  }

  /** One kill of `victim` at a random moment, then the checks. */
  async trial(victim: Victim, n: number): Promise<void> {
    const name = `fk-${victim}-${n}`;
    this.seen.clear(); // the containers of this trial (strays of any are found under the roots)
    const sleeper = ['busybox', 'sleep', '1000'];
    let d = 0;
    let killed = false;
    const [lo, hi] = victim === 'monitor' ? [0, 300] : await this.window(victim);
    // kill `p` (or `other`) at a random moment; one that finished first teaches how long it takes now
    const killAt = async (p: ChildProcess, other?: ChildProcess): Promise<boolean> => {
      const t0 = Date.now();
      const k = await killAfter(p, d = this.ms(lo, hi), other);
      if (!k) this.durations.set(victim, Math.round(0.5 * this.durations.get(victim)! + 0.5 * (Date.now() - t0)));
      return k;
    };
    switch (victim) {
      case 'run': killed = await killAt(this.c.spawn(['run', '--name', name, ...sleeper])); break;
      case 'run-d': killed = await killAt(this.c.spawn(['run', '-d', '--name', name, ...sleeper])); break;
      case 'start': {
        const id = await this.setup(['create', '--name', name, ...sleeper]);
        killed = await killAt(this.c.spawn(['start', id]));
        break;
      }
      case 'stop': {
        const id = await this.setup(['run', '-d', '--name', name, ...sleeper]);
        killed = await killAt(this.c.spawn(['stop', '-t', '1', id]));
        break;
      }
      case 'rm': {
        const id = await this.setup(['run', '-d', '--name', name, ...sleeper]);
        killed = await killAt(this.c.spawn(['rm', '-f', id]));
        break;
      }
      case 'monitor': {
        // a detached container, or an attached run (its CLI must then end by itself)
        // the helper becoming the monitor of a `run -d` under way, at a random moment of the start
        const mode = this.rand();
        if (mode < 1 / 3) {
          const [a, b] = await this.window('run-d');
          this.log(`${name}: its helper during run -d`);
          const cli = this.c.spawn(['run', '-d', '--name', name, ...sleeper]);
          cli.stdout!.resume(); cli.stderr!.resume();
          await sleep(d = this.ms(a, b));
          for (const pid of childrenOf(cli.pid!)) { try { process.kill(pid, 'SIGKILL'); killed = true; } catch { /* gone */ } }
          const t = setTimeout(() => { this.counts.failures.push(`${name}: run -d did not end after its helper was killed`); cli.kill('SIGKILL'); }, 20_000);
          await closed(cli);
          clearTimeout(t);
          const id = this.c.core.store.containers.find(name)?.id;
          if (id) this.seen.add(id);
          break;
        }
        const attached = mode < 2 / 3;
        this.log(`${name}: ${attached ? 'attached run' : 'run -d'}`);
        let cli: ChildProcess | undefined;
        let id: string;
        if (attached) {
          cli = this.c.spawn(['run', '--name', name, ...sleeper]);
          cli.stdout!.resume(); cli.stderr!.resume();
          const end = Date.now() + 20_000;
          while (!this.monitorPid(name) && Date.now() < end) await sleep(10);
          id = this.c.core.store.containers.find(name)?.id ?? '';
          if (id) this.seen.add(id);
        } else {
          id = await this.setup(['run', '-d', '--name', name, ...sleeper]);
        }
        await sleep(d = this.ms(lo, hi));
        const pid = this.monitorPid(id);
        if (pid && alive(pid)) { process.kill(pid, 'SIGKILL'); killed = true; }
        if (cli) {
          const t = setTimeout(() => { this.counts.failures.push(`${name}: the attached run did not end after its monitor was killed`); cli!.kill('SIGKILL'); }, 15_000);
          await closed(cli);
          clearTimeout(t);
        }
        break;
      }
      case 'worker': {
        const w = await startWorker(this.c.env, `${this.c.runRoot}/fk-${n}.sock`);
        const front = spawn(FRONT, ['run', '-d', '--name', name, ...sleeper], { env: w.env, stdio: ['pipe', 'pipe', 'pipe'] });
        killed = await killAt(front, w.proc);
        await w.stop();
        break;
      }
    }
    if (killed) this.counts.kills++; else this.counts.missed++;
    this.log(`${name}: ${killed ? 'killed' : 'finished'} after ${d} ms`);
    await this.check(`${name} (killed after ${d} ms)`);
  }

  private async records(): Promise<Map<string, string>> {
    const r = await this.c.berth(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.State}}']);
    if (r.code !== 0) throw new Error(`ps -a: exit ${r.code}: ${r.err}`);
    return new Map(r.out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
  }

  /** Records vs. the kernel, then rm -f of all and what stays. */
  async check(what: string): Promise<void> {
    await sleep(150); // a helper whose CLI died notices it
    const recs = await this.records();
    // running ⇔ alive in the kernel; and running only under a live monitor (else nothing controls it)
    const wrong = (m: Map<string, string>) => [...m].filter(([id, st]) => {
      const running = ['running', 'paused', 'restarting'].includes(st);
      return running !== kernelRunning(this.c.runRoot, id) || (running && !alive(this.monitorPid(id)));
    });
    let bad = wrong(recs);
    if (bad.length) {
      await sleep(500);
      const again = await this.records();
      const still = wrong(again);
      this.counts.transient += bad.length - still.length;
      bad = still;
    }
    this.counts.checked += recs.size;
    for (const [id, st] of bad) this.counts.lies.push(`${what}: ${id.slice(0, 12)} recorded ${st}, kernel says ${kernelRunning(this.c.runRoot, id) ? 'alive' : 'gone'}, monitor ${alive(this.monitorPid(id)) ? 'alive' : 'gone'}`);
    this.log(`  records: ${[...recs.values()].join(' ') || 'none'}`);
    for (const id of recs.keys()) this.seen.add(id);
    if (recs.size) {
      const r = await this.c.berth(['rm', '-f', ...recs.keys()]);
      if (r.code !== 0) this.counts.failures.push(`${what}: rm -f: exit ${r.code}: ${r.err.trim()}`);
    }
    await sleep(50);
    const found = [...[...this.seen].flatMap((id) => leaks(this.c, id)), ...strays(this.c)];
    const snaps = await snapshotter(this.c.core.images);
    for (const id of this.seen) if (snaps.stat(`container-${id}`)) found.push(`snapshot container-${id}`);
    for (const l of new Set(found)) {
      if (this.reported.has(l)) continue; // reported by an earlier trial
      this.reported.add(l);
      this.counts.leaks.push(`${what}: ${l}`);
    }
  }
}
