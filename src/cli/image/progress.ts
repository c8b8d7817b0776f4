/**
 * Docker-like progress display: on a terminal one line per layer, rewritten in place with a
 * bar, bytes and rate; otherwise plain lines, one per status change (byte progress omitted).
 */
import type { ProgressEvent } from '../../image/index.js';
import { humanSize } from './common.js';

interface LineState {
  index: number;
  status: string;
  started?: number;
  startBytes?: number;
  lastDraw: number;
}

const BAR = 50;

export function progressBar(current: number, total: number): string {
  if (!(total > 0)) return '';
  const filled = Math.min(BAR, Math.floor((current / total) * BAR));
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled === BAR ? '=' : '>') : ''}${' '.repeat(BAR - filled)}]`;
}

/** 4 significant digits, like Docker's HumanSize in progress lines. */
function size(n: number): string {
  return humanSize(n, 4);
}

export class ProgressPrinter {
  private readonly out: NodeJS.WritableStream;
  private readonly tty: boolean;
  private lines = new Map<string, LineState>();
  private count = 0;
  private readonly throttleMs: number;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean }, opts: { tty?: boolean; throttleMs?: number } = {}) {
    this.out = out;
    this.tty = opts.tty ?? !!out.isTTY;
    this.throttleMs = opts.throttleMs ?? 100;
  }

  /** Render one event. */
  handle = (e: ProgressEvent): void => {
    if (!e.id) {
      this.write(e.status);
      return;
    }
    const hasProgress = e.current !== undefined && e.total !== undefined;
    let st = this.lines.get(e.id);
    if (!this.tty) {
      if (hasProgress || st?.status === e.status) return;
      if (!st) this.lines.set(e.id, (st = { index: 0, status: e.status, lastDraw: 0 }));
      st.status = e.status;
      this.out.write(`${e.id}: ${e.status}${e.detail ? ` (${e.detail})` : ''}\n`);
      return;
    }
    const now = Date.now();
    if (st && st.status === e.status && hasProgress && now - st.lastDraw < this.throttleMs && e.current !== e.total) return;
    let text = `${e.id}: ${e.status}`;
    if (hasProgress) {
      if (!st || st.status !== e.status || st.started === undefined) {
        if (!st) this.lines.set(e.id, (st = { index: -1, status: e.status, lastDraw: 0 }));
        st.started = now;
        st.startBytes = e.current;
      }
      const secs = (now - st.started) / 1000;
      const rate = secs > 0.2 ? (e.current! - (st.startBytes ?? 0)) / secs : 0;
      text += ` ${progressBar(e.current!, e.total!)}  ${size(e.current!)}/${size(e.total!)}${rate > 0 ? `  ${size(rate)}/s` : ''}`;
    } else if (st) {
      st.started = undefined;
    }
    if (e.detail && !hasProgress) text += ` (${e.detail})`;
    if (!st) this.lines.set(e.id, (st = { index: -1, status: e.status, lastDraw: 0 }));
    st.status = e.status;
    st.lastDraw = now;
    if (st.index < 0) {
      st.index = this.count;
      this.write(text);
      return;
    }
    const up = this.count - st.index;
    this.out.write(`\x1b[${up}A\r\x1b[2K${text}\r\x1b[${up}B`);
  };

  private write(line: string): void {
    this.out.write(this.tty ? `\x1b[2K${line}\n` : `${line}\n`);
    this.count++;
  }
}
