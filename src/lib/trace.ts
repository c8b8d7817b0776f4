/**
 * Start-up/latency tracing: BERTH_TRACE=1 prints milliseconds since process start at each mark
 * (stderr). A host that runs commands for others (the worker) installs a sink: the command's own
 * environment, stream and start time.
 */

export interface TraceSink {
  /** whether the current command traces */
  enabled(): boolean;
  /** milliseconds since the current command started */
  now(): number;
  write(line: string): void;
}

const processSink: TraceSink = {
  enabled: ((on) => () => on)(!!process.env.BERTH_TRACE),
  now: () => process.uptime() * 1000,
  write: (line) => { process.stderr.write(line); },
};

let sink: TraceSink = processSink;

export function setTraceSink(s: TraceSink | undefined): void {
  sink = s ?? processSink;
}

export function mark(label: string): void {
  if (sink.enabled()) sink.write(`[trace ${sink.now().toFixed(1)}ms] ${label}\n`);
}
