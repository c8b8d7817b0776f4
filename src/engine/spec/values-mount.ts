/**
 * `--mount` (docker/cli opts/mount.go), `-v` (moby volume/mounts linux_parser ParseMountRaw) and
 * `--tmpfs` values, with the validation and wording of the CLI and the daemon's mount parser.
 */
import { existsSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { parseSize } from './size.js';
import type { MountSpec } from './types.js';

const usage = (message: string) => new BerthError({ kind: 'usage', op: 'parse flag', message });
const invalid = (message: string) => new BerthError({ kind: 'invalid', op: 'parse flag', message });

const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const CONSISTENCY = ['consistent', 'cached', 'delegated', 'default'];
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Go's strconv.ParseBool. */
function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** One CSV record (encoding/csv: `"` quotes a field, `""` inside is a quote). */
function csvFields(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw usage(`parse error on line 1, column ${i}: extraneous or missing " in quoted-field`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw usage(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      const j = text.indexOf(',', i);
      field = text.slice(i, j < 0 ? text.length : j);
      if (field.includes('"')) throw usage(`parse error on line 1, column ${i + field.indexOf('"') + 1}: bare " in non-quoted-field`);
      i = j < 0 ? text.length : j;
    }
    out.push(field);
    if (i >= text.length) return out;
    i++; // the comma
  }
}

function mountConfigError(type: string, why: string): BerthError {
  return invalid(`invalid mount config for type ${JSON.stringify(type)}: ${why}`);
}

/** The daemon's checks of a mount (validateMountConfig): target absolute and not `/`, bind source given. */
export function validateMountSpec(m: MountSpec): void {
  if (!m.target.startsWith('/')) throw mountConfigError(m.type, `invalid mount path: '${m.target}' mount path must be absolute`);
  if (posix.normalize(m.target) === '/') throw mountConfigError(m.type, "invalid specification: destination can't be '/'");
  if (m.type === 'bind' && !m.source) throw mountConfigError(m.type, 'field Source must not be empty');
  if (m.type === 'tmpfs' && m.source) throw mountConfigError(m.type, 'field Source must not be specified');
  if (m.type === 'volume' && m.source && !m.source.startsWith('/') && !VOLUME_NAME.test(m.source)) {
    throw invalid(`create ${m.source}: ${JSON.stringify(m.source)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

/**
 * The daemon's check at create (validateMountConfig): a bind source must exist unless it is to be
 * created (`-v`): `invalid mount config for type "bind": bind source path does not exist: /missing`.
 */
export function checkBindSources(mounts: readonly MountSpec[] | undefined): void {
  for (const m of mounts ?? []) {
    if (m.type !== 'bind' || m.createMountpoint || !m.source) continue;
    if (!existsSync(m.source)) throw mountConfigError('bind', `bind source path does not exist: ${m.source}`);
  }
}

/** `--mount type=bind,source=/a,target=/b,readonly` (default type: volume). */
export function parseMount(text: string, cwd = process.cwd()): MountSpec {
  const m: MountSpec = { type: 'volume', target: '', readonly: false };
  let type = 'volume';
  const used = { volume: false, bind: false, tmpfs: false };
  const boolOf = (key: string, v: string) => {
    const b = parseBool(v);
    if (b === undefined) throw usage(`invalid value for ${key}: ${v}`);
    return b;
  };
  const setMap = (key: 'volumeLabels' | 'volumeOptions', v: string) => {
    const i = v.indexOf('=');
    const k = i < 0 ? v : v.slice(0, i);
    if (k !== '') (m[key] ??= {})[k] = i < 0 ? '' : v.slice(i + 1);
  };
  let forceRecursive = false;
  for (const field of csvFields(text)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') { m.readonly = true; continue; }
      if (key === 'volume-nocopy') { used.volume = true; m.noCopy = true; continue; }
      if (key === 'bind-nonrecursive') { used.bind = true; m.nonRecursive = true; continue; }
      throw usage(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type': type = val.toLowerCase(); break;
      case 'source': case 'src':
        m.source = !val.startsWith('/') && val.startsWith('.') ? resolve(cwd, val) : val; break;
      case 'target': case 'dst': case 'destination': m.target = val; break;
      case 'readonly': case 'ro': m.readonly = boolOf(key, val); break;
      case 'consistency': break;
      case 'bind-propagation': used.bind = true; m.propagation = val.toLowerCase(); break;
      case 'bind-nonrecursive': used.bind = true; m.nonRecursive = boolOf(key, val); break;
      case 'bind-recursive':
        used.bind = true;
        if (val === 'disabled') m.nonRecursive = true;
        else if (val === 'writable') m.readonlyNonRecursive = true;
        else if (val === 'readonly') forceRecursive = true;
        else if (val !== 'enabled') throw usage(`invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`);
        break;
      case 'volume-subpath': used.volume = true; m.volumeSubpath = val; break;
      case 'volume-nocopy': used.volume = true; m.noCopy = boolOf(key, val); break;
      case 'volume-label': used.volume = true; setMap('volumeLabels', val); break;
      case 'volume-driver': used.volume = true; m.volumeDriver = val; break;
      case 'volume-opt': used.volume = true; setMap('volumeOptions', val); break;
      case 'tmpfs-size': {
        used.tmpfs = true;
        try { m.tmpfsSize = parseSize(val); } catch { throw usage(`invalid value for ${key}: ${val}`); }
        break;
      }
      case 'tmpfs-mode':
        used.tmpfs = true;
        if (!/^[0-7]+$/.test(val) || parseInt(val, 8) > 0xffffffff) throw usage(`invalid value for ${key}: ${val}`);
        m.tmpfsMode = parseInt(val, 8);
        break;
      case 'tmpfs-options': used.tmpfs = true; m.tmpfsOptions = val.split(',').filter(Boolean); break;
      default: throw usage(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (type === '') throw usage('type is required');
  if (m.target === '') throw usage('target is required');
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw invalid(`mount type ${JSON.stringify(type)} is not supported`);
  m.type = type;
  for (const t of ['volume', 'bind', 'tmpfs'] as const) {
    if (used[t] && type !== t) throw usage(`cannot mix '${t}-*' options with mount type '${type}'`);
  }
  if (m.readonlyNonRecursive && !m.readonly) throw usage("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  if (forceRecursive) {
    if (!m.readonly) throw usage("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (m.propagation !== 'rprivate') throw usage("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
  }
  if (m.propagation !== undefined && !PROPAGATIONS.includes(m.propagation)) throw mountConfigError(type, `invalid propagation mode: ${m.propagation}`);
  validateMountSpec(m);
  return m;
}

function validVolumeMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    if (o === 'rw' || o === 'ro') counts[0]++;
    else if (o === 'z' || o === 'Z') counts[1]++;
    else if (PROPAGATIONS.includes(o)) counts[2]++;
    else if (o === 'nocopy') counts[3]++;
    else if (CONSISTENCY.includes(o)) counts[4]++;
    else return false;
  }
  return counts.every((c) => c <= 1);
}

/** `-v [src:]dst[:mode]`: an absolute (or `.`-relative) source is a bind, a name a named volume,
 *  none an anonymous volume; modes ro/rw, z/Z, a propagation, nocopy, a consistency. */
export function parseVolume(text: string, cwd = process.cwd()): MountSpec {
  const spec = (why?: string) => invalid(`invalid volume specification: '${text}'${why ? `: ${why}` : ''}`);
  const arr = text.split(':');
  if (arr[0] === '' || arr.length > 3) throw spec();
  let source: string | undefined;
  let target: string;
  let mode = '';
  if (arr.length === 1) target = arr[0];
  else if (arr.length === 2) {
    if (validVolumeMode(arr[1])) throw spec();
    [source, target] = arr;
  } else [source, target, mode] = arr;
  if (!validVolumeMode(mode)) throw invalid(`invalid mode: ${mode}`);
  if (source !== undefined && !source.startsWith('/') && source.startsWith('.')) source = resolve(cwd, source);
  const modes = mode ? mode.split(',') : [];
  const m: MountSpec = { type: source?.startsWith('/') ? 'bind' : 'volume', target, readonly: modes.includes('ro') };
  if (source !== undefined) m.source = source;
  if (m.type === 'bind') m.createMountpoint = true; // the daemon creates a missing -v source (as a directory)
  const prop = modes.find((o) => PROPAGATIONS.includes(o));
  if (prop) m.propagation = prop;
  if (modes.includes('nocopy')) m.noCopy = true;
  const label = modes.find((o) => o === 'z' || o === 'Z');
  if (label) m.selinuxLabel = label as 'z' | 'Z';
  try { validateMountSpec(m); } catch (e) { throw spec((e as Error).message); }
  return m;
}

/** `--tmpfs /run[:rw,size=64m]` -> [destination, options]. */
export function parseTmpfs(text: string): [string, string] {
  const i = text.indexOf(':');
  const dest = i < 0 ? text : text.slice(0, i);
  if (!dest.startsWith('/')) throw mountConfigError('tmpfs', `invalid mount path: '${dest}' mount path must be absolute`);
  return [dest, i < 0 ? '' : text.slice(i + 1)];
}
