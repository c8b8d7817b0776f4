/**
 * `berth build`'s progress on a terminal, like BuildKit's tty display: a header with the elapsed
 * time and steps done, then one line per step (`=> [1/3] FROM …  0.4s`, `=> CACHED …`), the last
 * output lines of the running steps under them, redrawn in place (cursor up, erase) as the builder's
 * plain lines (`#N title`, `#N DONE 1.2s`, `#N CACHED`, `#N ERROR …`, `#N output`) come in and
 * every 100 ms while something runs. `render` is pure (tests call it); `TtyProgress` owns the timer.
 */

interface Step { n: number; title: string; start: number; end?: number; cached?: boolean; error?: boolean; secs?: string; out: string[] }

export class ProgressModel {
  readonly steps = new Map<number, Step>();
  readonly notes: string[] = [];
  readonly started: number;
  constructor(now = Date.now()) { this.started = now; }

  /** One plain line of the builder. */
  line(l: string, now = Date.now()): void {
    const m = /^#(\d+) (.*)$/s.exec(l);
    if (!m) { this.notes.push(l); return; }
    const n = Number(m[1]);
    const rest = m[2]!;
    const s = this.steps.get(n);
    if (!s) { this.steps.set(n, { n, title: rest, start: now, out: [] }); return; }
    let d: RegExpExecArray | null;
    if (rest === 'CACHED') { s.cached = true; s.end = now; } else if ((d = /^DONE (\d+(?:\.\d+)?)s$/.exec(rest))) { s.end = now; s.secs = d[1]; } else if (/^ERROR\b/.test(rest)) { s.error = true; s.end = now; s.out.push(rest); } else s.out.push(rest);
  }

  /** The screen: header and one line per step (output tails of running steps), `width` columns. */
  render(width: number, now = Date.now(), done = false): string[] {
    const steps = [...this.steps.values()].sort((a, b) => a.n - b.n);
    const finished = steps.filter((s) => s.end !== undefined).length;
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
    const fit = (left: string, right: string) => {
      const room = Math.max(10, width - right.length - 1);
      const l = left.length > room ? `${left.slice(0, room - 3)}...` : left;
      return right ? `${l}${' '.repeat(Math.max(1, width - l.length - right.length))}${right}` : l;
    };
    const out = [fit(`[+] Building ${secs(now - this.started)} (${finished}/${steps.length})${done ? ' FINISHED' : ''}`, '')];
    for (const s of steps) {
      const time = s.cached ? '0.0s' : s.secs !== undefined ? `${s.secs}s` : secs((s.end ?? now) - s.start);
      out.push(fit(` => ${s.cached ? 'CACHED ' : s.error ? 'ERROR ' : ''}${s.title}`, time));
      if (s.end === undefined || s.error) for (const o of s.out.slice(-6)) out.push(fit(` => => # ${o}`, ''));
    }
    return out;
  }
}

export interface TtyLike { write(s: string): unknown; columns?: number }

/** Draws the model on a terminal, in place. */
export class TtyProgress {
  readonly model = new ProgressModel();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly tty: TtyLike) {}

  log = (l: string): void => {
    this.model.line(l);
    this.draw();
    if (!this.timer) { this.timer = setInterval(() => this.draw(), 100); this.timer.unref(); }
  };

  private draw(done = false): void {
    const lines = this.model.render(Math.max(40, (this.tty.columns ?? 80) - 1), Date.now(), done);
    let s = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const l of lines) s += `\r\x1b[2K${l}\n`;
    // a screen shorter than the last one: erase what is left below
    for (let i = lines.length; i < this.drawn; i++) s += '\r\x1b[2K\n';
    if (this.drawn > lines.length) s += `\x1b[${this.drawn - lines.length}A`;
    this.tty.write(s);
    this.drawn = lines.length;
  }

  /** The last frame (every step with its time), the timer stopped. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.draw(true);
    for (const n of this.model.notes) this.tty.write(`${n}\n`);
  }
}
