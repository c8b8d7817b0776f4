/** The cgroup v1 driver: one directory per mounted hierarchy (plus the unified one in hybrid mode). */
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { BerthError } from '../lib/index.js';
import { isSigkill, mkdirChain, pidsRecursive, removeCreated, removeTree, signalAll, waitFor } from './common.js';
import type { Layout } from './detect.js';
import { readFile, readKV, readOptional, sleep, writeFile } from './files.js';
import { statsV1 } from './stats.js';
import type { CgroupManager, CgroupStats, Resources } from './types.js';
import { applyV1, cpusetCopyIfNeeded, validateV1, type Dirs } from './v1set.js';

interface Place { name: string; top: string; dir: string; controllers: string[] }

export class V1Cgroup implements CgroupManager {
  readonly version = 1 as const;
  readonly root: string;
  private readonly places: Place[];
  private readonly byController: Dirs = new Map();

  constructor(private readonly layout: Layout, readonly path: string, dirOf: (i: number) => string) {
    this.root = layout.root;
    this.places = layout.hierarchies.map((h, i) => ({ name: h.name, top: h.mountpoint, dir: dirOf(i), controllers: h.controllers }));
    for (const p of this.places) for (const c of p.controllers) if (!c.startsWith('name=')) this.byController.set(c, p.dir);
  }

  dirs(): Record<string, string> {
    return Object.fromEntries(this.places.map((p) => [p.name, p.dir]));
  }

  procsFiles(): string[] { return this.places.map((p) => join(p.dir, 'cgroup.procs')); }

  exists(): boolean { return this.places.some((p) => existsSync(p.dir)); }

  create(res?: Resources): void {
    validateV1(res, this.byController, this.root);
    for (const p of this.places) {
      if (p.dir === p.top) throw new BerthError({ kind: 'invalid', op: 'create cgroup', message: `create cgroup: ${this.path} is the root cgroup of ${p.top}` });
    }
    const created: string[] = [];
    try {
      for (const p of this.places) {
        created.push(...mkdirChain(p.top, p.dir, 'create cgroup'));
        if (p.controllers.includes('cpuset')) this.initCpuset(p);
      }
      applyV1(this.byController, res, this.root);
      const cs = this.places.find((p) => p.controllers.includes('cpuset'));
      if (cs) cpusetCopyIfNeeded(cs.dir, posix.dirname(cs.dir));
    } catch (e) {
      removeCreated(created);
      throw e;
    }
  }

  /** Every level between the mount and the leaf needs cpus/mems before the leaf can take tasks. */
  private initCpuset(p: Place): void {
    let cur = p.top;
    const parts = posix.relative(p.top, p.dir).split('/');
    for (const part of parts.slice(0, -1)) {
      const next = posix.join(cur, part);
      cpusetCopyIfNeeded(next, cur);
      cur = next;
    }
  }

  update(res: Resources): void {
    this.requireExists('update cgroup');
    applyV1(this.byController, res, this.root);
  }

  stats(): CgroupStats {
    this.requireExists('read cgroup stats');
    const present: Dirs = new Map([...this.byController].filter(([, d]) => existsSync(d)));
    return statsV1(present);
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const p of this.places) for (const pid of pidsRecursive(p.dir)) all.add(pid);
    return [...all].sort((a, b) => a - b);
  }

  private freezerDir(op: string): string {
    const d = this.byController.get('freezer');
    if (!d) throw new BerthError({ kind: 'system', op, path: this.root, message: `${op}: the freezer cgroup controller is not mounted under ${this.root}` });
    if (!existsSync(d)) throw new BerthError({ kind: 'notfound', op, path: d, message: `${op}: cgroup ${d} does not exist` });
    return d;
  }

  private requireExists(op: string): void {
    if (!this.exists()) throw new BerthError({ kind: 'notfound', op, path: this.path, message: `${op}: cgroup ${this.path} does not exist under ${this.root}` });
  }

  isFrozen(): boolean {
    const d = this.byController.get('freezer');
    if (!d || !existsSync(d)) return false;
    return readOptional(d, 'freezer.state') === 'FROZEN';
  }

  /** Write FROZEN until the state reads FROZEN (runc's retry scheme: FREEZING can stick while tasks fork). */
  async freeze(): Promise<void> {
    const d = this.freezerDir('freeze');
    try {
      for (let i = 0; i < 1000; i++) {
        if (i % 50 === 49) {
          // An occasional thaw and pause lets a forking cgroup settle.
          writeFile('freeze', d, 'freezer.state', 'THAWED');
          await sleep(10);
        }
        writeFile('freeze', d, 'freezer.state', 'FROZEN');
        if (i % 25 === 24) await sleep(1);
        const state = readFile('freeze', d, 'freezer.state');
        if (state === 'FROZEN') return;
        if (state !== 'FREEZING') throw new BerthError({ kind: 'system', op: 'freeze', path: d, message: `freeze: ${d}: unexpected freezer state ${state}` });
      }
      throw new BerthError({ kind: 'system', op: 'freeze', path: d, message: `freeze: ${d}: still FREEZING after 1000 attempts` });
    } catch (e) {
      // Never leave a cgroup half frozen.
      try { writeFile('thaw', d, 'freezer.state', 'THAWED'); } catch { /* report the freeze error */ }
      throw e;
    }
  }

  async thaw(): Promise<void> {
    const d = this.freezerDir('thaw');
    writeFile('thaw', d, 'freezer.state', 'THAWED');
    if (await waitFor(() => readFile('thaw', d, 'freezer.state') === 'THAWED', 5000)) return;
    throw new BerthError({ kind: 'system', op: 'thaw', path: d, message: `thaw: ${d}: freezer.state is still ${readFile('thaw', d, 'freezer.state')}` });
  }

  /** Freeze, signal every process, thaw: no process can fork away from the signal. */
  async killAll(signal: NodeJS.Signals | number): Promise<void> {
    if (!this.exists()) return;
    const fz = this.byController.get('freezer');
    const canFreeze = !!fz && existsSync(fz);
    const wasFrozen = canFreeze && this.isFrozen();
    if (canFreeze && !wasFrozen) await this.freeze();
    try {
      signalAll(this.pids(), signal, 'kill cgroup');
    } finally {
      // v1 frozen tasks die of SIGKILL only once thawed: always thaw then.
      if (canFreeze && (!wasFrozen || isSigkill(signal))) await this.thaw();
    }
    if (isSigkill(signal)) await waitFor(() => this.pids().length === 0, 5000);
  }

  oomKillCount(): number {
    const d = this.byController.get('memory');
    if (!d || !existsSync(d)) return 0;
    return readKV(d, 'memory.oom_control').oom_kill ?? 0;
  }

  async destroy(): Promise<void> {
    let first: unknown;
    for (const p of this.places) {
      if (p.dir === p.top) continue;
      try { await removeTree(p.dir, this.layout.fake); } catch (e) { first ??= e; }
    }
    if (first) throw first;
  }
}
