import { createHash } from 'node:crypto';

/**
 * IM's MsgSeq and MsgRandom for one WeChat push, fixed for its job: every attempt, on any
 * worker, sends the same pair, so IM drops a resend within 120 s, and a new push never matches.
 *
 * IM shows a one-to-one history sorted by time in seconds, then by MsgSeq within a second. So
 * MsgSeq follows the order pushes came in: the millisecond the gateway received it, modulo
 * 2^32. MsgRandom is drawn from the push's dedupe id, so two pushes of the same millisecond
 * still differ.
 */
export function imMessageIds(dedupeId: string, receivedAt: number): { msgSeq: number; msgRandom: number } {
  const digest = createHash('sha256').update(dedupeId).digest();
  return { msgSeq: Math.floor(receivedAt) % 2 ** 32, msgRandom: digest.readUInt32BE(0) };
}
