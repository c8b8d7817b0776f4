/**
 * `top`: the processes of a running container, as the host's `ps` shows them (default `-ef`),
 * keeping the rows whose PID is in the container's cgroup — Docker's ContainerTop.
 */
import { execFile } from 'node:child_process';
import { BerthError, conflict, invalid } from '../../lib/index.js';
import { pids as runtimePids } from '../../runtime/index.js';
import { reconcile } from './cleanup.js';
import type { EngineCore } from './core.js';

/** Docker's container.TopResponse. */
export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** `pid=PID…` is the only `key=PID…` assignment allowed (it would hide the PID column). */
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/\s+(\S*)=\s*(PID\S*)/g)) {
    if (m[1] !== 'pid') throw invalid('top', `specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

/** strings.Fields with ASCII whitespace only (a CMD may hold other Unicode spaces). */
const fieldsAscii = (s: string): string[] => s.split(/[\t\n\f\r ]+/).filter(Boolean);

/**
 * Keep the ps rows of `pids`: the header gives the titles and the PID column; fields beyond the
 * titles are joined into the last one (the command line); thread rows (`-` in the PID column,
 * `ps -m`) follow their process.
 */
export function parsePsOutput(output: string, pids: number[]): TopResult {
  const lines = output.split('\n');
  const titles = fieldsAscii(lines[0] ?? '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new BerthError({ kind: 'system', op: 'top', message: "Couldn't find PID field in ps output" });
  const want = new Set(pids);
  const processes: string[][] = [];
  const add = (fields: string[]) => processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  let inContainer = false;
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const fields = fieldsAscii(line);
    const f = fields[pidIndex];
    if (f === '-') { if (inContainer) add(fields); continue; }
    const p = Number(f);
    if (f === undefined || !/^-?\d+$/.test(f)) throw new BerthError({ kind: 'system', op: 'top', message: `Unexpected pid '${f ?? ''}': strconv.Atoi: parsing "${f ?? ''}": invalid syntax` });
    inContainer = want.has(p);
    if (inContainer) add(fields);
  }
  return { Titles: titles, Processes: processes };
}

function runPs(args: string[]): Promise<{ ok: true; out: string } | { ok: false; err: string }> {
  return new Promise((resolve) => {
    execFile('ps', args, { maxBuffer: 64 << 20, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, out: stdout });
      const first = (stderr ?? '').split('\n')[0];
      resolve({ ok: false, err: first || err.message });
    });
  });
}

/** Docker's top: `psArgs` is one string split on spaces (default `-ef`). */
export async function topContainer(core: EngineCore, ref: string, psArgs = ''): Promise<TopResult> {
  const args = psArgs || '-ef';
  validatePsArgs(args);
  const c = reconcile(core, core.store.containers.get(ref));
  if (c.state.status === 'restarting') throw conflict('top', `Container ${c.id} is restarting, wait until the container is running`);
  if (c.state.status !== 'running' && c.state.status !== 'paused') throw conflict('top', `container ${c.id} is not running`);
  let pids: number[];
  try { pids = runtimePids(core.runtime, c.id); } catch (e) {
    if (e instanceof BerthError && e.kind === 'notfound') throw conflict('top', `container ${c.id} is not running`);
    throw e;
  }
  const argv = args.split(' ');
  // `-q` makes ps read only these processes; some options (e.g. f) refuse it: then all of them.
  let r = pids.length ? await runPs([...argv, `-q${pids.join(',')}`]) : { ok: false as const, err: '' };
  if (!r.ok) r = await runPs(argv);
  if (!r.ok) throw new BerthError({ kind: 'system', op: 'top', message: `ps: ${r.err}` });
  const result = parsePsOutput(r.out, pids);
  core.event('container', 'top', c);
  return result;
}
