/** Disk usage of a directory tree like containerd's fs.DiskUsage: allocated bytes and inodes, hardlinks counted once. */
import { lstatSync, readdirSync } from 'node:fs';
import { wrapError } from '../lib/index.js';

export interface Usage {
  size: number;   // bytes allocated (st_blocks * 512)
  inodes: number;
}

export function diskUsage(root: string): Usage {
  const seen = new Set<string>();
  let size = 0;
  let inodes = 0;
  const visit = (path: string): void => {
    const st = lstatSync(path, { bigint: true });
    const id = `${st.dev}:${st.ino}`;
    if (!seen.has(id)) {
      seen.add(id);
      inodes++;
      size += Number(st.blocks) * 512;
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(`${path}/${name}`);
  };
  try {
    visit(root);
  } catch (err) {
    throw wrapError(err, 'snapshot usage', root);
  }
  return { size, inodes };
}
