/**
 * Device rules with cgroup v1 semantics (runc's devices emulator): the rule list is replayed on an
 * emulated v1 devices cgroup, giving a default policy plus exceptions. v1 writes the minimal
 * transition from the current devices.list; v2 compiles the same state to an eBPF program.
 */
import { invalid } from '../lib/index.js';
import type { LinuxDeviceCgroup } from './types.js';

export type DevType = 'a' | 'b' | 'c';
/** Access bits; rendered in the kernel's order r, w, m. */
export const ACC_R = 1, ACC_W = 2, ACC_M = 4, ACC_ALL = 7;
export const WILDCARD = -1;

export interface DeviceRule {
  type: DevType;
  major: number;
  minor: number;
  access: number;
  allow: boolean;
}

export function accessString(a: number): string {
  return `${a & ACC_R ? 'r' : ''}${a & ACC_W ? 'w' : ''}${a & ACC_M ? 'm' : ''}`;
}

function parseAccess(s: string, what: string): number {
  let a = 0;
  for (const ch of s) {
    if (ch === 'r') a |= ACC_R;
    else if (ch === 'w') a |= ACC_W;
    else if (ch === 'm') a |= ACC_M;
    else throw invalid('set devices', `set devices: ${what}: invalid access ${JSON.stringify(s)} (only r, w, m)`);
  }
  return a;
}

/** The OCI rule in normalised form (type "" is "a", absent major/minor are wildcards, empty access is rwm). */
export function fromSpec(d: LinuxDeviceCgroup): DeviceRule {
  const what = `rule ${JSON.stringify(d)}`;
  const t = d.type ?? 'a';
  const type = (t === '' ? 'a' : t) as DevType;
  if (type !== 'a' && type !== 'b' && type !== 'c') throw invalid('set devices', `set devices: ${what}: invalid type ${JSON.stringify(t)} (a, b or c)`);
  const num = (v: number | undefined, n: string): number => {
    if (v === undefined || v === null || v === WILDCARD) return WILDCARD;
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalid('set devices', `set devices: ${what}: invalid ${n} ${v}`);
    return v;
  };
  const access = d.access ? parseAccess(d.access, what) : ACC_ALL;
  return { type, major: num(d.major, 'major'), minor: num(d.minor, 'minor'), access, allow: !!d.allow };
}

/** The rule as written to devices.allow / devices.deny. */
export function ruleString(r: Pick<DeviceRule, 'type' | 'major' | 'minor' | 'access'>): string {
  const n = (v: number) => (v === WILDCARD ? '*' : String(v));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${accessString(r.access)}`;
}

const key = (type: DevType, major: number, minor: number) => `${type} ${major} ${minor}`;

/** An emulated v1 devices cgroup: default policy + exceptions (key -> access bits). */
export class DeviceState {
  defaultAllow = true;
  rules = new Map<string, { type: DevType; major: number; minor: number; access: number }>();

  static fromRules(rules: DeviceRule[]): DeviceState {
    const s = new DeviceState();
    for (const r of rules) s.apply(r);
    return s;
  }

  /** Parse devices.list: "a *:* rwm" means allow-all; otherwise a whitelist of the listed entries. */
  static fromList(text: string): DeviceState {
    const s = new DeviceState();
    s.defaultAllow = false;
    for (const line of text.split('\n')) {
      const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line.trim());
      if (!m) continue;
      const type = m[1] as DevType;
      const major = m[2] === '*' ? WILDCARD : Number(m[2]);
      const minor = m[3] === '*' ? WILDCARD : Number(m[3]);
      if (type === 'a') {
        s.defaultAllow = true;
        s.rules.clear();
        return s;
      }
      s.add(type, major, minor, parseAccess(m[4]!, 'devices.list'));
    }
    return s;
  }

  private add(type: DevType, major: number, minor: number, access: number): void {
    const k = key(type, major, minor);
    const old = this.rules.get(k);
    this.rules.set(k, { type, major, minor, access: access | (old?.access ?? 0) });
  }

  private remove(r: DeviceRule): void {
    // Refuse to "punch a hole" in a wildcard exception: v1 would silently ignore it (runc errors too).
    for (const [ma, mi] of [[WILDCARD, r.minor], [r.major, WILDCARD], [WILDCARD, WILDCARD]] as const) {
      if (ma === r.major && mi === r.minor) continue;
      const w = this.rules.get(key(r.type, ma, mi));
      if (w && (w.access & r.access)) {
        throw invalid('set devices', `set devices: rule ${ruleString(r)} is not supported by the devices cgroup (cannot punch a hole in the wildcard rule ${ruleString(w)})`);
      }
    }
    const k = key(r.type, r.major, r.minor);
    const old = this.rules.get(k);
    if (!old) return;
    const left = old.access & ~r.access;
    if (left) this.rules.set(k, { ...old, access: left }); else this.rules.delete(k);
  }

  apply(r: DeviceRule): void {
    if (r.type === 'a') {
      this.defaultAllow = r.allow;
      this.rules.clear();
      return;
    }
    // An allow rule adds an exception to a deny-by-default list and removes one from an allow-by-default list.
    if (r.allow !== this.defaultAllow) this.add(r.type, r.major, r.minor, r.access);
    else this.remove(r);
  }

  /** The exceptions in the order the rules introduced them (the spec: entries apply in the listed order), each with allow = !defaultAllow. */
  entries(): DeviceRule[] {
    return [...this.rules.values()].map((e) => ({ ...e, allow: !this.defaultAllow }));
  }

  /** The writes (allow/deny rules) that turn `this` (the current cgroup state) into `target`. */
  transition(target: DeviceState): DeviceRule[] {
    const out: DeviceRule[] = [];
    let old = this.rules;
    // devices.list cannot show the deny exceptions of an allow-all cgroup: reset it in that case too.
    if (this.defaultAllow || this.defaultAllow !== target.defaultAllow) {
      out.push({ type: 'a', major: WILDCARD, minor: WILDCARD, access: ACC_ALL, allow: target.defaultAllow });
      old = new Map();
    }
    for (const [k, o] of [...old.entries()].sort()) {
      const dropped = o.access & ~(target.rules.get(k)?.access ?? 0);
      if (dropped) out.push({ type: o.type, major: o.major, minor: o.minor, access: dropped, allow: target.defaultAllow });
    }
    for (const n of target.entries()) {
      const gained = n.access & ~(old.get(key(n.type, n.major, n.minor))?.access ?? 0);
      if (gained) out.push({ ...n, access: gained, allow: !target.defaultAllow });
    }
    return out;
  }

  equals(o: DeviceState): boolean {
    if (this.defaultAllow !== o.defaultAllow || this.rules.size !== o.rules.size) return false;
    for (const [k, v] of this.rules) if (o.rules.get(k)?.access !== v.access) return false;
    return true;
  }
}
