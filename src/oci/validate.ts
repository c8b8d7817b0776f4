/**
 * Validation of config.json, state and features documents: the runtime-spec v1.3.0 JSON schemas
 * (generated tables, see scripts/gen-oci.mjs) plus the rules the schemas cannot express.
 */
import { BerthError } from '../lib/index.js';
import { isCapability } from './capabilities.js';
import { isNamespaceType, rlimitNumber } from './constants.js';
import { RUNTIME_SCHEMAS_JSON } from './generated/runtime-schemas.js';
import { checkSchema, formatPath, type SchemaProblem, type SchemaTable } from './schema-check.js';
import { HOOK_NAMES, type Features, type Process, type Spec, type State } from './spec.js';

/** How many problems an error message lists. */
export const MAX_LISTED_PROBLEMS = 5;

let parsed: SchemaTable | undefined;
/** The runtime-spec schema table, parsed on first use (keeps module loading cheap). */
export function runtimeSchemas(): SchemaTable {
  return (parsed ??= JSON.parse(RUNTIME_SCHEMAS_JSON) as SchemaTable);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isAbs = (p: unknown): boolean => typeof p === 'string' && p.startsWith('/');

/** `path: message` lines, or `message` alone for the document itself. */
export function problemText(p: SchemaProblem): string {
  return p.path ? `${p.path}: ${p.message}` : p.message;
}

/** Throw a BerthError (kind 'invalid') listing up to MAX_LISTED_PROBLEMS problems, if there are any. */
export function throwProblems(op: string, problems: readonly SchemaProblem[], file?: string): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, MAX_LISTED_PROBLEMS).map(problemText).join('; ');
  const more = problems.length > MAX_LISTED_PROBLEMS ? ` (and ${problems.length - MAX_LISTED_PROBLEMS} more)` : '';
  throw new BerthError({ kind: 'invalid', op, path: file, message: `${op}${file ? ` ${file}` : ''}: ${shown}${more}` });
}

/** Rules of runtime-spec v1.3.0 (Linux) that its JSON schema does not express. */
export function configSemanticProblems(spec: unknown): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const add = (path: (string | number)[], message: string) => out.push({ path: formatPath(path), message });
  if (!isObj(spec)) return out;

  const root = spec.root;
  if (!isObj(root) || root.path === undefined) add(['root', 'path'], 'is required');
  else if (root.path === '') add(['root', 'path'], 'must not be empty');

  const proc = spec.process;
  if (isObj(proc)) {
    if (typeof proc.cwd === 'string' && !isAbs(proc.cwd)) add(['process', 'cwd'], 'must be an absolute path');
    if (!Array.isArray(proc.args) || proc.args.length === 0) add(['process', 'args'], 'must have at least one entry');
    if (isObj(proc.capabilities)) {
      for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) {
        arr(proc.capabilities[set]).forEach((c, i) => {
          if (typeof c === 'string' && !isCapability(c)) add(['process', 'capabilities', set, i], `unknown capability ${JSON.stringify(c)}`);
        });
      }
    }
    const seen = new Set<string>();
    arr(proc.rlimits).forEach((r, i) => {
      if (!isObj(r) || typeof r.type !== 'string') return;
      if (rlimitNumber(r.type) === undefined) add(['process', 'rlimits', i, 'type'], `unknown resource limit ${JSON.stringify(r.type)}`);
      else if (seen.has(r.type)) add(['process', 'rlimits', i, 'type'], `${r.type} is listed twice`);
      seen.add(r.type);
      if (Number.isInteger(r.soft) && Number.isInteger(r.hard) && (r.hard as number) >= 0 && (r.soft as number) > (r.hard as number)) add(['process', 'rlimits', i], 'soft limit is above the hard limit');
    });
    if (isObj(proc.ioPriority) && typeof proc.ioPriority.priority === 'number' && (proc.ioPriority.priority < 0 || proc.ioPriority.priority > 7)) {
      add(['process', 'ioPriority', 'priority'], 'must be between 0 and 7');
    }
  }

  arr(spec.mounts).forEach((m, i) => {
    if (isObj(m) && typeof m.destination === 'string' && !isAbs(m.destination)) add(['mounts', i, 'destination'], 'must be an absolute path');
  });

  if (isObj(spec.hooks)) {
    for (const h of HOOK_NAMES) {
      arr(spec.hooks[h]).forEach((hook, i) => {
        if (isObj(hook) && typeof hook.path === 'string' && !isAbs(hook.path)) add(['hooks', h, i, 'path'], 'must be an absolute path');
      });
    }
  }

  const linux = spec.linux;
  if (isObj(linux)) {
    const types = new Set<string>();
    arr(linux.namespaces).forEach((n, i) => {
      if (!isObj(n) || typeof n.type !== 'string' || !isNamespaceType(n.type)) return;
      if (types.has(n.type)) add(['linux', 'namespaces', i, 'type'], `namespace ${JSON.stringify(n.type)} is listed twice`);
      types.add(n.type);
      if (n.path !== undefined && typeof n.path === 'string' && !isAbs(n.path)) add(['linux', 'namespaces', i, 'path'], 'must be an absolute path');
    });
    if (!types.has('user') && (arr(linux.uidMappings).length || arr(linux.gidMappings).length)) {
      add(['linux', arr(linux.uidMappings).length ? 'uidMappings' : 'gidMappings'], 'needs a user namespace');
    }
    if (isObj(linux.timeOffsets) && !types.has('time')) add(['linux', 'timeOffsets'], 'needs a time namespace');
    arr(linux.devices).forEach((d, i) => {
      if (isObj(d) && typeof d.path === 'string' && !isAbs(d.path)) add(['linux', 'devices', i, 'path'], 'must be an absolute path');
    });
    const prop = linux.rootfsPropagation;
    if (typeof prop === 'string' && prop !== '' && !ROOTFS_PROPAGATIONS.includes(prop)) {
      add(['linux', 'rootfsPropagation'], `must be one of ${ROOTFS_PROPAGATIONS.map((v) => JSON.stringify(v)).join(', ')}`);
    }
    for (const list of ['maskedPaths', 'readonlyPaths']) {
      arr(linux[list]).forEach((p, i) => {
        if (typeof p === 'string' && !isAbs(p)) add(['linux', list, i], 'must be an absolute path');
      });
    }
  }
  return out;
}

/**
 * `linux.rootfsPropagation` values runc and crun accept, with runc's meaning: the schema lists only
 * the first four, but containerd's CRI writes `rshared` (bidirectional mount propagation) and
 * `rslave` (host-to-container). `""` means unset, as in runc.
 */
export const ROOTFS_PROPAGATIONS: readonly string[] = ['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable'];

/** The schema's enum for rootfsPropagation is narrower than what runtimes accept (checked in configSemanticProblems). */
function isRootfsPropagationEnum(p: SchemaProblem): boolean {
  return p.path === 'linux.rootfsPropagation' && p.message.startsWith('must be one of');
}

/** Every problem of a config.json (schema, then semantic); empty when valid. */
export function configProblems(spec: unknown): SchemaProblem[] {
  const schema = checkSchema(runtimeSchemas(), 'config', spec).filter((p) => !isRootfsPropagationEnum(p));
  const seen = new Set(schema.map(problemText));
  return [...schema, ...configSemanticProblems(spec).filter((p) => !seen.has(problemText(p)))];
}

/** Validate a parsed config.json; throws BerthError kind 'invalid', op 'validate config.json'. */
export function validateConfig(spec: unknown, file?: string): asserts spec is Spec {
  throwProblems('validate config.json', configProblems(spec), file);
}

/** Problems of a `process` object alone (as given to `exec --process`), paths relative to it. */
export function processProblems(proc: unknown): SchemaProblem[] {
  const wrapped = { ociVersion: '1.0.0', root: { path: '/' }, process: proc };
  const out: SchemaProblem[] = [];
  for (const p of configProblems(wrapped)) {
    if (p.path === 'process') out.push({ path: '', message: p.message });
    else if (p.path.startsWith('process.')) out.push({ path: p.path.slice('process.'.length), message: p.message });
  }
  return out;
}

/** Validate a process.json (`exec --process`); throws BerthError kind 'invalid', op 'validate process.json'. */
export function validateProcess(proc: unknown, file?: string): asserts proc is Process {
  throwProblems('validate process.json', processProblems(proc), file);
}

/** Validate a state document (state-schema.json; pid required when created or running). */
export function validateState(state: unknown): asserts state is State {
  const problems = checkSchema(runtimeSchemas(), 'state', state);
  if (isObj(state) && (state.status === 'created' || state.status === 'running') && state.pid === undefined) {
    problems.push({ path: 'pid', message: `is required when the status is ${state.status}` });
  }
  throwProblems('validate state', problems);
}

/** Validate a features document (features-schema.json). */
export function validateFeatures(features: unknown): asserts features is Features {
  throwProblems('validate features', checkSchema(runtimeSchemas(), 'features', features));
}
