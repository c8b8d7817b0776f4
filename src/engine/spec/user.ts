/**
 * `--user name|uid[:group|gid]` and `--group-add` resolved against the image's /etc/passwd and
 * /etc/group, exactly as moby does (moby/sys/user GetExecUser + GetAdditionalGroups, called from
 * daemon/oci_linux.go getUser): the primary gid comes first in the additional gids, then the
 * groups listing the user (only when no group was given), then --group-add.
 */
import { BerthError } from '../../lib/index.js';
import type { User } from '../../oci/index.js';
import { readRootfsFile } from './rootfs.js';

export interface PasswdEntry { name: string; uid: number; gid: number; home: string; shell: string }
export interface GroupEntry { name: string; gid: number; members: string[] }

const MAX_ID = 2 ** 31 - 1;
const OP = 'resolve user';
const fail = (message: string) => new BerthError({ kind: 'invalid', op: OP, message });
const rangeError = () => fail(`uids and gids must be in range 0-${MAX_ID}`);

/** Go's strconv.Atoi for the ids of these files: an optional sign and decimal digits. */
function atoi(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}

function lines(text: string): string[][] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => l.split(':'));
}

export function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map((f) => ({ name: f[0] ?? '', uid: atoi(f[2] ?? '') ?? 0, gid: atoi(f[3] ?? '') ?? 0, home: f[5] ?? '', shell: f[6] ?? '' }));
}

export function parseGroup(text: string): GroupEntry[] {
  return lines(text).map((f) => ({ name: f[0] ?? '', gid: atoi(f[2] ?? '') ?? 0, members: f[3] ? f[3].split(',') : [] }));
}

export interface ExecUser { uid: number; gid: number; sgids: number[]; home: string }

/** moby/sys/user GetExecUser with the default user 0:0; undefined files = missing files. */
export function getExecUser(spec: string, passwd: PasswdEntry[] | undefined, group: GroupEntry[] | undefined): ExecUser {
  const parts = spec.split(':');
  const userArg = parts[0] ?? '';
  const groupArg = parts[1] ?? '';
  const uidArg = atoi(userArg);
  const gidArg = atoi(groupArg);
  const out: ExecUser = { uid: 0, gid: 0, sgids: [], home: '' };

  const users = (passwd ?? []).filter((u) => (userArg === '' ? u.uid === 0 : uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
  let matched = '';
  if (users.length) {
    matched = users[0].name;
    out.uid = users[0].uid;
    out.gid = users[0].gid;
    out.home = users[0].home;
  } else if (userArg !== '') {
    if (uidArg === undefined) throw fail(`unable to find user ${userArg}: no matching entries in passwd file`);
    if (uidArg < 0 || uidArg > MAX_ID) throw rangeError();
    out.uid = uidArg;
  }

  if (groupArg !== '' || matched !== '') {
    const groups = (group ?? []).filter((g) => (groupArg === '' ? g.members.includes(matched) : gidArg !== undefined ? g.gid === gidArg : g.name === groupArg));
    if (groupArg !== '') {
      if (groups.length) out.gid = groups[0].gid;
      else {
        if (gidArg === undefined) throw fail(`unable to find group ${groupArg}: no matching entries in group file`);
        if (gidArg < 0 || gidArg > MAX_ID) throw rangeError();
        out.gid = gidArg;
      }
    } else if (groups.length) {
      out.sgids = groups.map((g) => g.gid);
    }
  }
  return out;
}

/** moby/sys/user GetAdditionalGroups: names or gids, first match wins; unknown numbers pass through.
 *  (Go returns them in map order; here in the order given, duplicates dropped.) */
export function getAdditionalGroups(wanted: readonly string[], group: GroupEntry[] | undefined): number[] {
  const groups = (group ?? []).filter((g) => wanted.some((w) => g.name === w || String(g.gid) === w));
  const gids: number[] = [];
  for (const w of wanted) {
    let found = false;
    for (const g of groups) {
      if ((g.name === w || String(g.gid) === w) && !gids.includes(g.gid)) {
        gids.push(g.gid);
        found = true;
        break;
      }
    }
    if (found) continue;
    const n = atoi(w);
    if (n === undefined) {
      // Go's quirk kept: a name given twice is "not found" the second time.
      throw fail(`Unable to find group ${w}: no matching entries in group file`);
    }
    if (n < 0 || n > MAX_ID) throw rangeError();
    if (!gids.includes(n)) gids.push(n);
  }
  return gids;
}

/** The OCI process.user of `--user spec` (`''` = the image default: root) plus `--group-add`,
 *  reading /etc/passwd and /etc/group inside the rootfs (never following links out of it). */
export function resolveUser(rootfs: string, spec: string, groupAdd: readonly string[] = [], read?: (path: string) => string | undefined): User {
  return resolveUserHome(rootfs, spec, groupAdd, read).user;
}

/** resolveUser plus the user's home directory from /etc/passwd ('' when unknown). `read` reads a
 *  file of the container (default: inside `rootfs`). */
export function resolveUserHome(rootfs: string, spec: string, groupAdd: readonly string[] = [], read?: (path: string) => string | undefined): { user: User; home: string } {
  const rd = read ?? ((p: string) => readRootfsFile(rootfs, p));
  const passwdText = rd('/etc/passwd');
  const groupText = rd('/etc/group');
  const passwd = passwdText === undefined ? undefined : parsePasswd(passwdText);
  const group = groupText === undefined ? undefined : parseGroup(groupText);
  const u = getExecUser(spec, passwd, group);
  const extra = groupAdd.length ? getAdditionalGroups(groupAdd, group) : [];
  return { user: { uid: u.uid, gid: u.gid, additionalGids: [u.gid, ...u.sgids, ...extra] }, home: u.home };
}
