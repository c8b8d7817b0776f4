/** OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(L0|..|Ln) = sha256(ChainID(L0|..|Ln-1) + " " + DiffID(Ln)). */
import { createHash } from 'node:crypto';

export function chainID(parentChain: string | undefined, diffID: string): string {
  if (!parentChain) return diffID;
  return `sha256:${createHash('sha256').update(`${parentChain} ${diffID}`).digest('hex')}`;
}

/** The chain ID of every prefix of a layer list. */
export function chainIDs(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) out.push(chainID(out[out.length - 1], d));
  return out;
}
