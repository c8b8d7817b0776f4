/**
 * Parse an OCI mount's `options` the way runc does (libcontainer/specconv parseMountOptions):
 * known flags set or clear mount(2) flags, propagation options are collected in order, recursive
 * options (`rro`, `rnosuid`, ...) become mount_setattr(2) attributes, `tmpcopyup`/`idmap`/`ridmap`
 * are extensions, and everything else joins the filesystem data string.
 * One deliberate difference: runc passes `defaults` through to the data string (its table entry has
 * flag 0); here it is a no-op, which is what fstab users mean by it.
 */
import * as C from './constants.js';

export interface IdmapOption {
  /** `ridmap`: apply the mapping to the whole mount tree. */
  recursive: boolean;
}

export interface MountExtensions {
  /** `tmpcopyup`: copy the underlying directory's content into a new tmpfs. */
  tmpcopyup: boolean;
  /** `idmap` / `ridmap` (the last one given wins); null when neither is present. */
  idmap: IdmapOption | null;
}

export interface ParsedMountOptions {
  /** MS_* flags to set. */
  flags: number;
  /** MS_* flags explicitly cleared (`rw`, `suid`, `dev`, ...), needed for remounts. */
  clearFlags: number;
  /** Propagation changes in the order given, each MS_PRIVATE/MS_SHARED/... possibly | MS_REC. */
  propagation: number[];
  /** Filesystem-specific data, comma-joined (`mode=755,size=65536k`). */
  data: string;
  /** mount_setattr(AT_RECURSIVE) attr_set / attr_clr from the `r*` options. */
  recAttrSet: number;
  recAttrClr: number;
  extensions: MountExtensions;
}

interface FlagOpt { clear: boolean; flag: number }

const f = (flag: number): FlagOpt => ({ clear: false, flag });
const c = (flag: number): FlagOpt => ({ clear: true, flag });

export const MOUNT_FLAG_OPTIONS: Readonly<Record<string, FlagOpt>> = {
  async: c(C.MS_SYNCHRONOUS), atime: c(C.MS_NOATIME), bind: f(C.MS_BIND), dev: c(C.MS_NODEV), diratime: c(C.MS_NODIRATIME),
  dirsync: f(C.MS_DIRSYNC), exec: c(C.MS_NOEXEC), iversion: f(C.MS_I_VERSION), lazytime: f(C.MS_LAZYTIME),
  loud: c(C.MS_SILENT), mand: f(C.MS_MANDLOCK), noatime: f(C.MS_NOATIME), nodev: f(C.MS_NODEV),
  nodiratime: f(C.MS_NODIRATIME), noexec: f(C.MS_NOEXEC), noiversion: c(C.MS_I_VERSION), nolazytime: c(C.MS_LAZYTIME),
  nomand: c(C.MS_MANDLOCK), norelatime: c(C.MS_RELATIME), nostrictatime: c(C.MS_STRICTATIME), nosuid: f(C.MS_NOSUID),
  nosymfollow: f(C.MS_NOSYMFOLLOW), rbind: f(C.MS_BIND | C.MS_REC), relatime: f(C.MS_RELATIME), remount: f(C.MS_REMOUNT),
  ro: f(C.MS_RDONLY), rw: c(C.MS_RDONLY), silent: f(C.MS_SILENT), strictatime: f(C.MS_STRICTATIME), suid: c(C.MS_NOSUID),
  sync: f(C.MS_SYNCHRONOUS), symfollow: c(C.MS_NOSYMFOLLOW),
};

export const PROPAGATION_OPTIONS: Readonly<Record<string, number>> = {
  rprivate: C.MS_PRIVATE | C.MS_REC, private: C.MS_PRIVATE, rslave: C.MS_SLAVE | C.MS_REC, slave: C.MS_SLAVE,
  rshared: C.MS_SHARED | C.MS_REC, shared: C.MS_SHARED, runbindable: C.MS_UNBINDABLE | C.MS_REC, unbindable: C.MS_UNBINDABLE,
};

export const RECURSIVE_ATTR_OPTIONS: Readonly<Record<string, FlagOpt>> = {
  rro: f(C.MOUNT_ATTR_RDONLY), rrw: c(C.MOUNT_ATTR_RDONLY),
  rnosuid: f(C.MOUNT_ATTR_NOSUID), rsuid: c(C.MOUNT_ATTR_NOSUID),
  rnodev: f(C.MOUNT_ATTR_NODEV), rdev: c(C.MOUNT_ATTR_NODEV),
  rnoexec: f(C.MOUNT_ATTR_NOEXEC), rexec: c(C.MOUNT_ATTR_NOEXEC),
  rnodiratime: f(C.MOUNT_ATTR_NODIRATIME), rdiratime: c(C.MOUNT_ATTR_NODIRATIME),
  rrelatime: f(C.MOUNT_ATTR_RELATIME), rnorelatime: c(C.MOUNT_ATTR_RELATIME),
  rnoatime: f(C.MOUNT_ATTR_NOATIME), ratime: c(C.MOUNT_ATTR_NOATIME),
  rstrictatime: f(C.MOUNT_ATTR_STRICTATIME), rnostrictatime: c(C.MOUNT_ATTR_STRICTATIME),
  rnosymfollow: f(C.MOUNT_ATTR_NOSYMFOLLOW), rsymfollow: c(C.MOUNT_ATTR_NOSYMFOLLOW),
};

export const EXTENSION_OPTIONS: readonly string[] = ['tmpcopyup', 'idmap', 'ridmap'];

/** Every option name this parser gives a meaning to (data options aside). */
export function knownMountOptions(): string[] {
  return [...Object.keys(MOUNT_FLAG_OPTIONS), 'defaults', ...Object.keys(PROPAGATION_OPTIONS),
    ...Object.keys(RECURSIVE_ATTR_OPTIONS), ...EXTENSION_OPTIONS].sort();
}

export function parseMountOptions(options: readonly string[] | undefined): ParsedMountOptions {
  const r: ParsedMountOptions = {
    flags: 0, clearFlags: 0, propagation: [], data: '', recAttrSet: 0, recAttrClr: 0,
    extensions: { tmpcopyup: false, idmap: null },
  };
  const data: string[] = [];
  for (const o of options ?? []) {
    const mf = Object.hasOwn(MOUNT_FLAG_OPTIONS, o) ? MOUNT_FLAG_OPTIONS[o] : undefined;
    const rec = Object.hasOwn(RECURSIVE_ATTR_OPTIONS, o) ? RECURSIVE_ATTR_OPTIONS[o] : undefined;
    if (mf) {
      // As runc: the *atime options are not treated as an enum; each only sets or clears its own bit.
      if (mf.clear) { r.flags &= ~mf.flag; r.clearFlags |= mf.flag; } else { r.flags |= mf.flag; r.clearFlags &= ~mf.flag; }
    } else if (o === 'defaults') {
      // no-op (see the header comment)
    } else if (Object.hasOwn(PROPAGATION_OPTIONS, o)) {
      r.propagation.push(PROPAGATION_OPTIONS[o]);
    } else if (rec) {
      if (rec.clear) { r.recAttrClr |= rec.flag; r.recAttrSet &= ~rec.flag; } else {
        r.recAttrSet |= rec.flag; r.recAttrClr &= ~rec.flag;
        // mount_setattr(2): an access-time setting in attr_set needs MOUNT_ATTR__ATIME in attr_clr.
        if ((rec.flag & C.MOUNT_ATTR__ATIME) === rec.flag) r.recAttrClr |= C.MOUNT_ATTR__ATIME;
      }
    } else if (o === 'tmpcopyup') {
      r.extensions.tmpcopyup = true;
    } else if (o === 'idmap' || o === 'ridmap') {
      r.extensions.idmap = { recursive: o === 'ridmap' };
    } else {
      data.push(o);
    }
  }
  r.flags >>>= 0;
  r.clearFlags >>>= 0;
  r.data = data.join(',');
  return r;
}
