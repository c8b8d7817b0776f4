/** The cgroup v2 (unified) driver: one directory, controllers enabled through the parents' subtree_control. */
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { BerthError } from '../lib/index.js';
import { attachDeviceProgram } from './bpfattach.js';
import { isSigkill, mkdirChain, pidsRecursive, removeCreated, removeTree, signalAll, waitFor } from './common.js';
import type { Hierarchy, Layout } from './detect.js';
import { has, readKV, readOptional, writeFile } from './files.js';
import { statsV2 } from './stats.js';
import type { CgroupManager, CgroupStats, DeviceProgramAttacher, Resources } from './types.js';
import { applyV2, checkType, enableControllers, validateV2 } from './v2set.js';

const FREEZE_TIMEOUT_MS = 10000;

export class V2Cgroup implements CgroupManager {
  readonly version = 2 as const;
  readonly root: string;
  private readonly hier: Hierarchy;
  private readonly dir: string;
  private readonly attach: DeviceProgramAttacher;

  constructor(private readonly layout: Layout, readonly path: string, dir: string, attach?: DeviceProgramAttacher) {
    this.root = layout.root;
    this.hier = layout.hierarchies[0]!;
    this.dir = dir;
    this.attach = attach ?? attachDeviceProgram;
  }

  dirs(): Record<string, string> { return { '': this.dir }; }
  procsFiles(): string[] { return [join(this.dir, 'cgroup.procs')]; }
  exists(): boolean { return existsSync(this.dir); }

  create(res?: Resources): void {
    validateV2(res);
    const top = this.hier.mountpoint;
    if (this.dir === top) throw new BerthError({ kind: 'invalid', op: 'create cgroup', message: `create cgroup: ${this.path} is the root cgroup of ${top}` });
    const created = mkdirChain(top, this.dir, 'create cgroup');
    try {
      const controllers = (readOptional(top, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean);
      // Enable the root's controllers on every level above the leaf (as runc does), checking each level's type.
      let cur = top;
      const parts = posix.relative(top, this.dir).split('/');
      for (let i = 0; i < parts.length; i++) {
        enableControllers(cur, controllers);
        cur = posix.join(cur, parts[i]!);
        checkType(cur);
      }
      applyV2(this.dir, res, this.attach);
    } catch (e) {
      removeCreated(created);
      throw e;
    }
  }

  update(res: Resources): void {
    this.requireExists('update cgroup');
    applyV2(this.dir, res, this.attach);
  }

  stats(): CgroupStats {
    this.requireExists('read cgroup stats');
    return statsV2(this.dir);
  }

  pids(): number[] { return pidsRecursive(this.dir); }

  private frozenState(): boolean {
    return readKV(this.dir, 'cgroup.events').frozen === 1;
  }

  isFrozen(): boolean {
    if (!existsSync(this.dir)) return false;
    return this.frozenState();
  }

  async freeze(): Promise<void> {
    this.requireFreezer('freeze');
    writeFile('freeze', this.dir, 'cgroup.freeze', '1');
    if (await waitFor(() => this.frozenState(), FREEZE_TIMEOUT_MS)) return;
    try { writeFile('freeze', this.dir, 'cgroup.freeze', '0'); } catch { /* report the timeout */ }
    throw new BerthError({ kind: 'system', op: 'freeze', path: this.dir, message: `freeze: ${this.dir}: not frozen after ${FREEZE_TIMEOUT_MS / 1000}s (thawed again)` });
  }

  async thaw(): Promise<void> {
    this.requireFreezer('thaw');
    writeFile('thaw', this.dir, 'cgroup.freeze', '0');
    if (await waitFor(() => !this.frozenState(), FREEZE_TIMEOUT_MS)) return;
    throw new BerthError({ kind: 'system', op: 'thaw', path: this.dir, message: `thaw: ${this.dir}: still frozen after ${FREEZE_TIMEOUT_MS / 1000}s` });
  }

  private requireFreezer(op: string): void {
    this.requireExists(op);
    if (!has(this.dir, 'cgroup.freeze')) {
      throw new BerthError({ kind: 'system', op, path: this.dir, message: `${op}: ${this.dir}/cgroup.freeze does not exist (the cgroup v2 freezer needs Linux 5.2)` });
    }
  }

  private requireExists(op: string): void {
    if (!existsSync(this.dir)) throw new BerthError({ kind: 'notfound', op, path: this.dir, message: `${op}: cgroup ${this.dir} does not exist` });
  }

  async killAll(signal: NodeJS.Signals | number): Promise<void> {
    if (!existsSync(this.dir)) return;
    const populated = () => readKV(this.dir, 'cgroup.events').populated === 1 || pidsRecursive(this.dir).length > 0;
    if (isSigkill(signal) && has(this.dir, 'cgroup.kill')) {
      writeFile('kill cgroup', this.dir, 'cgroup.kill', '1');
      await waitFor(() => !populated(), 5000);
      return;
    }
    const canFreeze = has(this.dir, 'cgroup.freeze');
    const wasFrozen = canFreeze && this.frozenState();
    if (canFreeze && !wasFrozen) await this.freeze();
    try {
      signalAll(this.pids(), signal, 'kill cgroup');
    } finally {
      if (canFreeze && (!wasFrozen || isSigkill(signal))) await this.thaw();
    }
    if (isSigkill(signal)) await waitFor(() => !populated(), 5000);
  }

  oomKillCount(): number {
    return readKV(this.dir, 'memory.events').oom_kill ?? 0;
  }

  async destroy(): Promise<void> {
    if (this.dir === this.hier.mountpoint) return;
    await removeTree(this.dir, this.layout.fake);
  }
}
