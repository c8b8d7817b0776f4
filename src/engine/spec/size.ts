/** Sizes as Docker writes them (docker/go-units RAMInBytes). */
import { BerthError } from '../../lib/index.js';

const usageError = (message: string) => new BerthError({ kind: 'usage', op: 'parse flag', message });

const BINARY: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** go-units RAMInBytes: `64m`, `1g`, `512`, `1.5GiB`, `10 kb` (binary units, case-insensitive). */
export function parseSize(text: string): number {
  const sep = Math.max(...[...'0123456789. '].map((c) => text.lastIndexOf(c)));
  if (sep < 0) throw usageError(`invalid size: '${text}'`);
  const num = text[sep] === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  let sfx = text.slice(sep + 1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) throw usageError(`strconv.ParseFloat: parsing ${JSON.stringify(num)}: invalid syntax`);
  let size = Number(num);
  if (size < 0) throw usageError(`invalid size: '${text}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const badSuffix = () => usageError(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw badSuffix();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw badSuffix();
    return Math.trunc(size);
  }
  const mul = BINARY[sfx[0]];
  if (!mul) throw badSuffix();
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw badSuffix();
  size *= mul;
  return Math.trunc(size);
}

