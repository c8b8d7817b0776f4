/**
 * `logs`: the json-file log the monitor writes (rotated files oldest first, then the live file),
 * filtered by time and tail, and followed while the container runs (rotation included).
 */
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { parseJsonLog, type JsonLogEntry } from '../../sys/index.js';
import { parseTimeNs, type Container } from '../store/index.js';
import { monitorAlive, readExitRecord } from './cleanup.js';
import type { EngineCore } from './core.js';

export interface LogsOptions {
  follow?: boolean;
  /** nanoseconds since the epoch (inclusive) */
  since?: bigint;
  until?: bigint;
  /** the last n lines only (of what is logged now); undefined = all */
  tail?: number;
  stdout?: boolean;
  stderr?: boolean;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readAll(path: string): Promise<string> {
  try { return await readFile(path, 'utf8'); } catch { return ''; }
}

function logFiles(c: Container, maxFiles: number): string[] {
  const out: string[] = [];
  for (let i = maxFiles - 1; i >= 1; i--) if (existsSync(`${c.logPath}.${i}`)) out.push(`${c.logPath}.${i}`);
  out.push(c.logPath);
  return out;
}

function timeNs(e: JsonLogEntry): bigint {
  return parseTimeNs(e.time) ?? 0n;
}

export async function* readLogs(core: EngineCore, c: Container, o: LogsOptions = {}): AsyncGenerator<JsonLogEntry> {
  const maxFiles = Number(((c.hostConfig.LogConfig as { Config?: Record<string, string> } | undefined)?.Config ?? {})['max-file'] ?? 1) || 1;
  const want = (e: JsonLogEntry) => (e.stream === 'stdout' ? o.stdout !== false : o.stderr !== false)
    && (o.since === undefined || timeNs(e) >= o.since) && (o.until === undefined || timeNs(e) <= o.until);
  const files = logFiles(c, maxFiles);
  // Everything logged so far (rotated files are complete; the live file up to its current size).
  const entries: JsonLogEntry[] = [];
  let livePos = 0;
  let liveIno = 0;
  // Following keeps the live file open: its last lines stay readable after a removal unlinks it.
  let live: FileHandle | undefined;
  for (const f of files) {
    let text: string;
    if (f === c.logPath) {
      let fh: FileHandle;
      try { fh = await open(f, 'r'); } catch { continue; }
      try {
        const st = await fh.stat();
        liveIno = st.ino;
        const buf = Buffer.alloc(st.size);
        const { bytesRead } = await fh.read(buf, 0, st.size, 0);
        text = buf.subarray(0, bytesRead).toString('utf8');
        const lastNl = text.lastIndexOf('\n');
        text = text.slice(0, lastNl + 1);
        livePos = Buffer.byteLength(text);
      } finally { if (o.follow) live = fh; else await fh.close(); }
    } else text = await readAll(f);
    for (const line of text.split('\n')) {
      if (!line) continue;
      try { const e = parseJsonLog(line); if (want(e)) entries.push(e); } catch { /* a torn line */ }
    }
  }
  const start = o.tail === undefined || o.tail < 0 ? 0 : Math.max(0, entries.length - o.tail);
  for (let i = start; i < entries.length; i++) yield entries[i]!;
  if (!o.follow) return;
  const paths = core.paths(c.id);
  let partial = '';
  let ended = false; // an entry past `until`
  /** What the open live file holds beyond livePos, as entries. */
  async function* more(fh: FileHandle): AsyncGenerator<JsonLogEntry, number> {
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, livePos);
      if (bytesRead === 0) return total;
      livePos += bytesRead;
      total += bytesRead;
      const lines = (partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        let e: JsonLogEntry;
        try { e = parseJsonLog(line); } catch { continue; /* torn */ }
        if (o.until !== undefined && timeNs(e) > o.until) { ended = true; return total; }
        if (want(e)) yield e;
      }
    }
  }
  try {
    for (;;) {
      if (o.signal?.aborted) return;
      const done = !!readExitRecord(paths.exitFile) || !monitorAlive(c.state.monitorPid);
      let st;
      try { st = await stat(c.logPath); } catch { st = undefined; }
      if (st && (!live || st.ino !== liveIno)) {
        // rotated (or made after we looked): finish the old file, then follow the new one
        if (live) { yield* more(live); await live.close(); live = undefined; if (ended) return; }
        try { live = await open(c.logPath, 'r'); liveIno = (await live.stat()).ino; } catch { live = undefined; }
        livePos = 0; partial = '';
      } else if (st && st.size < livePos) { livePos = 0; partial = ''; } // truncated
      const got = live ? yield* more(live) : 0;
      if (ended) return;
      if (got > 0) continue;
      if (done) return; // exited, and all it logged is sent
      if (!st && live) return; // removed: its file was drained through the open handle
      if (o.until !== undefined && BigInt(Date.now()) * 1_000_000n > o.until) return;
      await sleep(50);
    }
  } finally {
    await live?.close();
  }
}
