/** `run`: create + start; in the foreground, wait for the container and delete it afterwards. */
import { mark } from '../lib/index.js';
import type { HelperSession } from '../sys/index.js';
import { launch, type CreateOptions } from './create.js';
import type { RuntimeOptions } from './container.js';
import { del } from './delete.js';
import { poststart } from './start.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export interface RunOptions extends CreateOptions { detach?: boolean }

/** Forward our signals to `pid` until `done` resolves; returns the exit code as a shell reports it. */
export async function waitForeground(session: HelperSession, pid: number): Promise<number> {
  const forward = (sig: NodeJS.Signals) => { try { process.kill(pid, sig); } catch { /* gone */ } };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    for (;;) {
      const m = await session.next();
      if (!m) return 255;
      if (m.type === 'exit') mark('exit');
      if (m.type === 'exit') return m.signal ? 128 + m.signal : (m.code ?? 0);
      if (m.type === 'error') throw session.errorFor(m, 'wait');
    }
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
}

export async function run(opts: RuntimeOptions, o: RunOptions): Promise<number> {
  const detach = !!o.detach;
  const { container, session } = await launch(opts, o, 'run', !detach, !detach && !o.consoleSocket, true);
  try {
    await poststart(container);
    mark('started');
  } catch (e) {
    session.abort();
    await del(opts, container.id, true).catch(() => undefined);
    throw e;
  }
  if (detach) {
    await session.exited;
    session.close();
    return 0;
  }
  try {
    return await waitForeground(session, container.st.pid);
  } finally {
    session.close();
    await del(opts, container.id, true, container);
    mark('deleted');
  }
}
