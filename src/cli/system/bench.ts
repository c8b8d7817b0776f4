/**
 * `berth bench net`: the network schemes measured on this machine (engine/bench-net.ts); a
 * table, one "fits:" line per scheme, and optionally the results as JSON and an SVG chart.
 */
import { writeFileSync } from 'node:fs';
import { BENCH_SCHEMES, benchNet, type BenchNetResult } from '../../engine/index.js';
import { onSignal } from '../context.js';
import { str } from '../flags.js';
import { io, printErr, runEngineCommand, type CommandSpec } from '../container/common.js';
import { dispatch } from './common.js';

const spec: CommandSpec = {
  name: 'bench net',
  usage: 'berth bench net [OPTIONS]',
  description: `Measure the network schemes on this machine: TCP throughput (1 and 4 streams), 1-byte request/response
latency, ping and the setup cost of a container, for each of: ${BENCH_SCHEMES.join(', ')}`,
  args: [0, 0],
  flags: [
    { name: 'duration', type: 'string', default: '3', help: 'Seconds per measurement', metavar: 'seconds' },
    { name: 'schemes', type: 'string', help: 'Comma-separated schemes to measure (default all of the engine\'s: rootless, host, none and the published-pasta/-slirp4netns ones)', metavar: 'list' },
    { name: 'json', type: 'string', help: 'Write the results as JSON to this file', metavar: 'file' },
    { name: 'svg', type: 'string', help: 'Write a bar chart of the throughput as SVG to this file', metavar: 'file' },
    { name: 'image', type: 'string', default: 'busybox', help: 'Image of the containers (needs sleep; never pulled)', metavar: 'image' },
  ],
};

const f1 = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(v >= 100 ? 0 : 1));
const f2 = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(2));

export function renderTable(r: BenchNetResult): string {
  const head = ['SCHEME', 'GBIT/S x1', 'GBIT/S x4', 'RR P50 µs', 'RR P99 µs', 'PING µs', 'SETUP ms'];
  const rows = r.schemes.map((s) => [s.scheme, f2(s.gbit1), f2(s.gbit4), f1(s.rr?.p50Us), f1(s.rr?.p99Us), f1(s.ping?.p50Us), s.setupMs === null ? '-' : `${s.setupMs >= 0 ? '+' : ''}${f1(s.setupMs)}`]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line), ''];
  for (const s of r.schemes) out.push(`${s.scheme}: ${s.title}`, `  fits: ${s.fits}`, ...(s.error ? [`  not measured: ${s.error}`] : []));
  out.push('', `setup: run -d over --network none (${f1(r.baselineSetupMs)} ms); ${r.durationS} s per measurement; ${r.host.cpus} CPUs, load ${r.host.loadavg.join(' ')}`);
  if (r.crossCheck) out.push(`cross-check: ${r.crossCheck.tool}: iperf3 ${f2(r.crossCheck.gbit1)} Gbit/s, netbench ${f2(r.crossCheck.netbench1)} Gbit/s`);
  return out.join('\n') + '\n';
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars: Gbit/s with 1 and 4 streams per scheme. */
export function renderSvg(r: BenchNetResult): string {
  const rows = r.schemes;
  const max = Math.max(1, ...rows.flatMap((s) => [s.gbit1 ?? 0, s.gbit4 ?? 0]));
  const left = 130, width = 420, rowH = 34, top = 40;
  const h = top + rows.length * rowH + 30;
  const x = (v: number) => (v / max) * width;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 90}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14">berth bench net: TCP throughput (Gbit/s), ${esc(r.date.slice(0, 10))}, ${r.host.cpus} CPUs</text>`,
    `<rect x="${left}" y="26" width="10" height="8" fill="#4e79a7"/><text x="${left + 14}" y="34">1 stream</text>`,
    `<rect x="${left + 80}" y="26" width="10" height="8" fill="#f28e2b"/><text x="${left + 94}" y="34">4 streams</text>`,
  ];
  rows.forEach((s, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 6}" y="${y + 18}" text-anchor="end">${esc(s.scheme)}</text>`);
    for (const [k, v, color] of [[0, s.gbit1, '#4e79a7'], [1, s.gbit4, '#f28e2b']] as const) {
      const yy = y + 4 + k * 13;
      parts.push(`<rect x="${left}" y="${yy}" width="${x(v ?? 0).toFixed(1)}" height="12" fill="${color}"/>`);
      parts.push(`<text x="${left + x(v ?? 0) + 4}" y="${yy + 10}">${v === null ? 'n/a' : v.toFixed(2)}</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

async function net(argv: string[], name: string): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const duration = Number(str(p, 'duration'));
    const schemes = str(p, 'schemes') ? str(p, 'schemes').split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    const ac = new AbortController();
    const onSig = () => { printErr('berth bench net: interrupted, cleaning up'); ac.abort(); };
    // onSignal: the process's signals, or the client's when a `berth worker` runs the command
    const offs = [onSignal('SIGINT', onSig), onSignal('SIGTERM', onSig), onSignal('hangup', onSig)];
    try {
      const { result, cleanupProblems } = await benchNet(core, {
        duration, schemes, image: str(p, 'image') || 'busybox', signal: ac.signal,
        progress: (l) => { if (io.err.isTTY || process.env.BERTH_BENCH_VERBOSE) printErr(l); },
      });
      io.out.write(renderTable(result));
      if (str(p, 'json')) writeFileSync(str(p, 'json'), JSON.stringify(result, null, 2) + '\n');
      if (str(p, 'svg')) writeFileSync(str(p, 'svg'), renderSvg(result));
      for (const l of cleanupProblems) printErr(`berth bench net: clean-up: ${l}`);
      return cleanupProblems.length || result.schemes.some((s) => s.error) ? 1 : 0;
    } finally {
      for (const off of offs) off();
    }
  });
}

/** `berth bench COMMAND`. */
export function run(argv: string[]): Promise<number> {
  return dispatch('bench', 'Measure berth on this machine', { net: ['Compare the network schemes: throughput, latency, setup cost', net] }, {}, argv);
}
