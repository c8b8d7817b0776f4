/**
 * `berth stats [OPTIONS] [CONTAINER...]`: Docker's live resource usage table. Each container is
 * sampled every second; CPU % compares a sample with the previous one, as the docker CLI does
 * with the daemon's `precpu_stats`. On a terminal the table is redrawn in place until Ctrl-C;
 * otherwise one table is printed per sample; `--no-stream` prints one table (two samples).
 */
import { onSignal as onSig } from '../context.js';
import { BerthError } from '../../lib/index.js';
import { reconcile, sampleStats, type EngineCore, type StatsJSON } from '../../engine/index.js';
import type { Container } from '../../engine/store/index.js';
import { bool, str } from '../flags.js';
import { formatItems, parseFormat, renderHeader, runFormat, tableTemplate } from '../image/format.js';
import { goStruct } from '../../lib/template/index.js';
import { io, printErr, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'stats',
  usage: 'berth stats [OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  args: [0, -1],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'format', type: 'string', help: "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" },
    { name: 'no-stream', type: 'bool', help: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate output' },
  ],
};

export const DEFAULT_STATS_TABLE = '{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

const HEADERS: Record<string, string> = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

/** Sampling (and redraw) period, the daemon's collection interval. */
const INTERVAL_MS = 1000;

// ---- numbers as Go and go-units print them ----

/** Go's `%.<prec>g`: shortest of fixed/exponent form, trailing zeros dropped, exponent of 2+ digits. */
export function goG(v: number, prec: number): string {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const exp = v.toExponential(prec - 1);
  const e = Number(exp.slice(exp.indexOf('e') + 1));
  if (e < -4 || e >= prec) {
    const [m, x] = exp.split('e') as [string, string];
    const mant = m.includes('.') ? m.replace(/\.?0+$/, '') : m;
    const sign = x.startsWith('-') ? '-' : '+';
    return `${mant}e${sign}${x.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return String(Number(v.toPrecision(prec)));
}

function customSize(size: number, base: number, units: string[], prec: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) { size /= base; i++; }
  return `${goG(size, prec)}${units[i]}`;
}

/** go-units BytesSize: binary units, 4 significant digits (`1.5MiB`, `64MiB`). */
export const bytesSize = (n: number): string => customSize(n, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'], 4);
/** go-units HumanSizeWithPrecision(n, 3): decimal units (`1.2kB`, `0B`). */
export const decimalSize = (n: number): string => customSize(n, 1000, ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'], 3);
const percent = (v: number): string => `${v.toFixed(2)}%`;

// ---- the docker CLI's computations over a stats sample ----

/** What a row shows (the docker CLI's StatsEntry). */
export interface StatsEntry {
  container: string;
  name: string;
  id: string;
  cpuPercentage: number;
  memory: number;
  memoryLimit: number;
  memoryPercentage: number;
  networkRx: number;
  networkTx: number;
  blockRead: number;
  blockWrite: number;
  pidsCurrent: number;
  /** No data (the container is not running): every value shows `--`. */
  invalid: boolean;
}

export function cpuPercent(s: StatsJSON): number {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const online = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/** Usage without the page cache that can be reclaimed: v1 total_inactive_file, v2 inactive_file. */
export function memUsageNoCache(m: StatsJSON['memory_stats']): number {
  const usage = m.usage ?? 0;
  const v1 = m.stats?.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = m.stats?.inactive_file ?? 0;
  return v2 < usage ? usage - v2 : usage;
}

export function blockIO(s: StatsJSON): [number, number] {
  let r = 0, w = 0;
  for (const e of s.blkio_stats.io_service_bytes_recursive ?? []) {
    const c = e.op[0];
    if (c === 'r' || c === 'R') r += e.value;
    else if (c === 'w' || c === 'W') w += e.value;
  }
  return [r, w];
}

export function entryOf(container: string, s: StatsJSON): StatsEntry {
  const mem = memUsageNoCache(s.memory_stats);
  const limit = s.memory_stats.limit ?? 0;
  let rx = 0, tx = 0;
  for (const n of Object.values(s.networks ?? {})) { rx += n.rx_bytes; tx += n.tx_bytes; }
  const [blockRead, blockWrite] = blockIO(s);
  return {
    container, name: s.name, id: s.id, cpuPercentage: cpuPercent(s), memory: mem, memoryLimit: limit,
    memoryPercentage: limit ? (mem / limit) * 100 : 0, networkRx: rx, networkTx: tx, blockRead, blockWrite,
    pidsCurrent: s.pids_stats.current ?? 0, invalid: false,
  };
}

function invalidEntry(container: string, c?: Container): StatsEntry {
  return {
    container, name: c ? `/${c.name}` : '', id: c?.id ?? '', cpuPercentage: 0, memory: 0, memoryLimit: 0, memoryPercentage: 0,
    networkRx: 0, networkTx: 0, blockRead: 0, blockWrite: 0, pidsCurrent: 0, invalid: true,
  };
}

/** The template fields (the docker CLI's statsContext), keys sorted as its JSON output has them. */
export function fieldsOf(e: StatsEntry, trunc: boolean): Record<string, string> {
  const bad = e.invalid;
  return {
    BlockIO: bad ? '--' : `${decimalSize(e.blockRead)} / ${decimalSize(e.blockWrite)}`,
    CPUPerc: bad ? '--' : percent(e.cpuPercentage),
    Container: e.container,
    ID: trunc ? e.id.slice(0, 12) : e.id,
    MemPerc: bad ? '--' : percent(e.memoryPercentage),
    MemUsage: bad ? '-- / --' : `${bytesSize(e.memory)} / ${bytesSize(e.memoryLimit)}`,
    Name: e.name.length > 1 ? e.name.slice(1) : '--',
    NetIO: bad ? '--' : `${decimalSize(e.networkRx)} / ${decimalSize(e.networkTx)}`,
    PIDs: bad ? '--' : String(e.pidsCurrent),
  };
}

// ---- output ----

/**
 * Go's text/tabwriter (flags 0, pad ' '): tab-terminated cells are aligned per column block
 * (consecutive lines that have the column) to max(minwidth, widest + padding); the last cell of
 * a line is not part of a column.
 */
export function tabwrite(text: string, minwidth: number, padding: number): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const len = (s: string) => [...s].length;
  const widths: number[][] = lines.map(() => []);
  const maxCols = Math.max(0, ...lines.map((l) => l.length - 1));
  for (let col = 0; col < maxCols; col++) {
    for (let i = 0; i < lines.length;) {
      if (col >= lines[i]!.length - 1) { i++; continue; }
      let j = i, w = minwidth;
      for (; j < lines.length && col < lines[j]!.length - 1; j++) w = Math.max(w, len(lines[j]![col]!) + padding);
      for (let k = i; k < j; k++) widths[k]![col] = w;
      i = j;
    }
  }
  return lines.map((cells, i) => cells.map((c, col) => (col < cells.length - 1 ? c + ' '.repeat(Math.max(0, widths[i]![col]! - len(c))) : c)).join('')).join('\n');
}

/** Render entries with a `--format` value, as the docker CLI's formatter does (tables: minwidth 10, padding 3). */
export function renderStats(format: string, entries: StatsEntry[], trunc: boolean): string {
  const f = format.trim() || 'table';
  const items = entries.map((e) => goStruct(fieldsOf(e, trunc), '*container.statsContext'));
  if (f !== 'table' && !f.startsWith('table ')) return formatItems(f, items, DEFAULT_STATS_TABLE, HEADERS);
  const tpl = tableTemplate(f, DEFAULT_STATS_TABLE)!;
  const t = parseFormat(tpl);
  const body = items.map((i) => runFormat(t, i) + '\n').join('');
  const header = renderHeader(t, tpl, HEADERS);
  return tabwrite(`${header}\n${body}`, 10, 3);
}

// ---- the command ----

interface Tracked {
  /** The name as asked for (or the short id when listing). */
  key: string;
  /** The container id (once found). */
  id?: string;
  prev?: StatsJSON;
  entry: StatsEntry;
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted) return resolve();
  const done = () => { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
  const t = setTimeout(done, ms);
  signal.addEventListener('abort', done, { once: true });
});

const live = (c: Container) => c.state.status === 'running' || c.state.status === 'paused';

/** Take a sample of each tracked container; `stream` marks stopped ones invalid (the CLI's timeout). */
function sampleAll(core: EngineCore, tracked: Tracked[], stream: boolean): void {
  for (const t of tracked) {
    const c = t.id ? core.store.containers.find(t.id) : undefined;
    if (!c) { t.entry = { ...invalidEntry(t.key), name: t.entry.name, id: t.entry.id }; t.prev = undefined; continue; }
    const s = sampleStats(core, c, t.prev);
    if (s.read.startsWith('0001-') && stream) {
      t.entry = invalidEntry(t.key, c);
      t.prev = undefined;
      continue;
    }
    t.entry = entryOf(t.key, s);
    t.prev = s.read.startsWith('0001-') ? undefined : s;
  }
}

export async function run(argv: string[], name = 'stats'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const showAll = p.args.length === 0;
    const all = bool(p, 'all');
    const noStream = bool(p, 'no-stream');
    const trunc = !bool(p, 'no-trunc');
    const format = str(p, 'format');
    const tracked: Tracked[] = [];
    const list = () => core.store.containers.list({ all }).map((c) => reconcile(core, c)).filter((c) => all || live(c));
    if (showAll) {
      for (const c of list()) tracked.push({ key: c.id.slice(0, 12), id: c.id, entry: invalidEntry(c.id.slice(0, 12), c) });
    } else {
      const errs: string[] = [];
      for (const a of p.args) {
        if (tracked.some((t) => t.key === a)) continue;
        try {
          const c = core.store.containers.get(a);
          tracked.push({ key: a, id: c.id, entry: invalidEntry(a, c) });
        } catch (e) {
          if (!(e instanceof BerthError)) throw e;
          errs.push(`Error response from daemon: ${e.message}`);
        }
      }
      if (errs.length) { printErr(errs.join('\n')); return 1; }
    }

    const stop = new AbortController();
    let signalled = 0;
    const onSignal = (sig: NodeJS.Signals) => { signalled = sig === 'SIGINT' ? 130 : 143; stop.abort(); };
    const onOutError = () => stop.abort(); // e.g. EPIPE: the reader went away
    const offs = noStream ? [] : [onSig('SIGINT', () => onSignal('SIGINT')), onSig('SIGTERM', () => onSignal('SIGTERM')), onSig('hangup', onOutError), onSig('SIGPIPE', onOutError)];
    io.out.on('error', onOutError);
    try {
      sampleAll(core, tracked, !noStream);
      const tty = !noStream && !!io.out.isTTY;
      for (;;) {
        if (tracked.some((t) => t.prev)) await sleep(INTERVAL_MS, stop.signal);
        if (stop.signal.aborted) break;
        if (showAll && !noStream) {
          const now = list();
          const ids = new Set(now.map((c) => c.id));
          for (let i = tracked.length - 1; i >= 0; i--) if (!ids.has(tracked[i]!.id!)) tracked.splice(i, 1);
          for (const c of now) {
            if (!tracked.some((t) => t.id === c.id)) tracked.push({ key: c.id.slice(0, 12), id: c.id, entry: invalidEntry(c.id.slice(0, 12), c) });
          }
        }
        sampleAll(core, tracked, !noStream);
        const table = renderStats(format, tracked.map((t) => t.entry), trunc);
        io.out.write(tty ? `\x1b[2J\x1b[H${table}` : table);
        if (noStream) break;
        // Nothing to sample (all stopped): wait a period before redrawing.
        if (!tracked.some((t) => t.prev)) await sleep(INTERVAL_MS, stop.signal);
        if (stop.signal.aborted) break;
      }
    } finally {
      for (const off of offs) off();
      io.out.off('error', onOutError);
    }
    return signalled;
  });
}
