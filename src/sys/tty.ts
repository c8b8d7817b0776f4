/** Terminal sizes set on a pty from outside (TIOCSWINSZ through koffi: no stty process). */
import { closeSync, constants, openSync } from 'node:fs';
import { BerthError, errnoName } from '../lib/index.js';
import { koffi, libcLibrary } from './fsops.js';

const TIOCSWINSZ = 0x5414;
type Ioctl = (fd: number, req: number, arg: Buffer) => number;
let ioctl: Ioctl | undefined;

/**
 * Set the window size of the terminal at `path` (a pty slave, or /proc/PID/fd/N naming one): its
 * foreground process group gets SIGWINCH, as from a terminal emulator's resize.
 */
export function setWinsize(path: string, rows: number, cols: number): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  try {
    ioctl ??= libcLibrary().func('int ioctl(int fd, unsigned long req, void *arg)') as unknown as Ioctl;
    const ws = Buffer.alloc(8);
    ws.writeUInt16LE(rows, 0);
    ws.writeUInt16LE(cols, 2);
    if (ioctl(fd, TIOCSWINSZ, ws) < 0) {
      const errno = koffi().errno();
      throw new BerthError({ kind: 'system', op: 'set the terminal size', path, code: errnoName(errno), errno, message: `set the terminal size of ${path}: ${errnoName(errno)}` });
    }
  } finally {
    closeSync(fd);
  }
}
