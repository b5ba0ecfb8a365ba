import { createHash } from 'node:crypto';

/**
 * IM's MsgSeq and MsgRandom for one WeChat push, derived from its dedupe id: a retry of the same
 * push carries the same pair (IM drops it as a duplicate within 120 s), a new push never does.
 */
export function imMessageIds(dedupeId: string): { msgSeq: number; msgRandom: number } {
  const digest = createHash('sha256').update(dedupeId).digest();
  return { msgSeq: digest.readUInt32BE(0), msgRandom: digest.readUInt32BE(4) };
}
