/** `berth logs [-f] [--since] [--until] [--tail N] [-t] CONTAINER` */
import { onSignal } from '../context.js';
import { BerthError } from '../../lib/index.js';
import { readLogs, reconcile } from '../../engine/index.js';
import { bool, str } from '../flags.js';
import { io, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'logs',
  usage: 'berth logs [OPTIONS] CONTAINER',
  description: 'Fetch the logs of a container',
  args: [1, 1],
  flags: [
    { name: 'details', type: 'bool', help: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', help: 'Follow log output' },
    { name: 'since', type: 'string', help: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', default: 'all', help: 'Number of lines to show from the end of the logs' },
    { name: 'timestamps', short: 't', type: 'bool', help: 'Show timestamps' },
    { name: 'until', type: 'string', help: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  ],
};

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Docker's timestamp argument: RFC 3339 (date, date-time, with or without zone), Unix seconds[.nanos], or a Go duration ago. */
export function parseTimestamp(flag: string, v: string, now = Date.now()): bigint {
  if (/^\d+(\.\d{1,9})?$/.test(v)) {
    const [s, frac = ''] = v.split('.');
    return BigInt(s!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
  }
  const dur = /^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(v) ? v.match(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)! : null;
  if (dur) {
    let ms = 0;
    for (const part of dur) { const m = /^(\d+(?:\.\d+)?)(.+)$/.exec(part)!; ms += Number(m[1]) * UNITS[m[2]!]!; }
    return BigInt(Math.round((now - ms))) * 1_000_000n;
  }
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : (v.includes('T') ? v : `${v}T00:00:00`) + 'Z';
  const t = Date.parse(withZone);
  if (!Number.isFinite(t)) throw new BerthError({ kind: 'usage', op: 'logs', message: `invalid value for "${flag}": failed to parse value as time or duration: "${v}"` });
  const frac = /\.(\d{1,9})/.exec(v)?.[1] ?? '';
  return BigInt(Math.floor(t / 1000)) * 1_000_000_000n + BigInt(frac.padEnd(9, '0') || '0');
}

export async function run(argv: string[], name = 'logs'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const c = reconcile(core, core.store.containers.get(p.args[0]!));
    const tailRaw = str(p, 'tail');
    let tail: number | undefined;
    if (tailRaw !== 'all' && tailRaw !== '') {
      tail = Number(tailRaw);
      if (!Number.isInteger(tail)) throw new BerthError({ kind: 'usage', op: 'logs', message: `invalid value for "tail": ${tailRaw}` });
    }
    const since = str(p, 'since') ? parseTimestamp('since', str(p, 'since')) : undefined;
    const until = str(p, 'until') ? parseTimestamp('until', str(p, 'until')) : undefined;
    const ts = bool(p, 'timestamps');
    const ac = new AbortController();
    const stop = () => ac.abort();
    const offs = [onSignal('SIGINT', stop, true), onSignal('SIGPIPE', stop, true), onSignal('hangup', stop, true)];
    io.out.on('error', stop);
    try {
      for await (const e of readLogs(core, c, { follow: bool(p, 'follow'), since, until, tail, signal: ac.signal })) {
        const line = ts ? `${e.time} ${e.log}` : e.log;
        (e.stream === 'stderr' ? io.err : io.out).write(line);
        if (ac.signal.aborted) break;
      }
    } finally {
      for (const off of offs) off();
    }
    return 0;
  });
}
