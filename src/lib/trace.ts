/** Start-up/latency tracing: BERTH_TRACE=1 prints milliseconds since process start at each mark (stderr). */

const on = !!process.env.BERTH_TRACE;

export function mark(label: string): void {
  if (on) process.stderr.write(`[trace ${(process.uptime() * 1000).toFixed(1)}ms] ${label}\n`);
}
