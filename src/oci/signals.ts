/**
 * Signal names <-> numbers for Linux (x86_64/arm64 numbering, which all of asm-generic shares).
 * Accepts what `docker kill -s` / `runc kill` accept: `KILL`, `SIGKILL`, `kill`, `9`, `SIGRTMIN+3`,
 * `RTMAX-1`. Real-time signals follow glibc: SIGRTMIN = 34 (32 and 33 are reserved by the C library).
 */
import { BerthError } from '../lib/index.js';

export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17,
  SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25,
  SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** Aliases accepted on input; never produced on output. */
const ALIASES: Readonly<Record<string, number>> = { SIGIOT: 6, SIGCLD: 17, SIGPOLL: 29, SIGUNUSED: 31 };

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

const names = new Map<number, string>(Object.entries(SIGNALS).map(([n, v]) => [v, n]));

function bad(text: string, why = 'unknown signal'): BerthError {
  return new BerthError({ kind: 'usage', op: 'parse signal', message: `${why} ${JSON.stringify(text)}` });
}

/** Parse a signal given by name (with or without SIG, any case) or number; throws on an unknown one. */
export function parseSignal(text: string | number): number {
  if (typeof text === 'number') return checkNumber(text, String(text));
  const raw = text.trim();
  if (/^\d+$/.test(raw)) return checkNumber(Number(raw), text);
  let name = raw.toUpperCase();
  if (!name.startsWith('SIG')) name = 'SIG' + name;
  const known = SIGNALS[name] ?? ALIASES[name];
  if (known !== undefined) return known;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const off = rt[3] === undefined ? 0 : Number(rt[3]);
    if ((rt[1] === 'MIN' && rt[2] === '-') || (rt[1] === 'MAX' && rt[2] === '+')) throw bad(text);
    const n = base + (rt[2] === '-' ? -off : off);
    if (n < SIGRTMIN || n > SIGRTMAX) throw bad(text, 'real-time signal out of range');
    return n;
  }
  throw bad(text);
}

function checkNumber(n: number, text: string): number {
  if (!Number.isInteger(n) || n < 1 || n > SIGRTMAX || n === 32 || n === 33) throw bad(text);
  return n;
}

/** The name of signal `n` (`SIGKILL`, `SIGRTMIN+3`, `SIGRTMAX-1`); throws for a number with no name. */
export function signalName(n: number): string {
  const name = names.get(n);
  if (name) return name;
  if (Number.isInteger(n) && n >= SIGRTMIN && n <= SIGRTMAX) {
    if (n === SIGRTMIN) return 'SIGRTMIN';
    if (n === SIGRTMAX) return 'SIGRTMAX';
    // Same split as glibc's strsignal / moby's signal map: RTMIN+1..+15, then RTMAX-14..-1.
    return n - SIGRTMIN <= 15 ? `SIGRTMIN+${n - SIGRTMIN}` : `SIGRTMAX-${SIGRTMAX - n}`;
  }
  throw new BerthError({ kind: 'usage', op: 'signal name', message: `unknown signal number ${n}` });
}
