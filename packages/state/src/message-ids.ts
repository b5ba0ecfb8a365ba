import { createHash } from 'node:crypto';

/**
 * IM's MsgSeq and MsgRandom for one WeChat push, fixed for its job: every attempt, on any
 * worker, sends the same pair, so IM drops a resend within 120 s, and a new push never matches.
 *
 * IM shows a one-to-one history sorted by time in seconds, then by MsgSeq within a second. So
 * MsgSeq follows the order the gateway stored pushes in: the job's place in its line, a
 * Redis-side sequence shared by every gateway (modulo 2^32). MsgRandom is drawn from the push's
 * dedupe id.
 */
export function imMessageIds(dedupeId: string, place: number): { msgSeq: number; msgRandom: number } {
  const digest = createHash('sha256').update(dedupeId).digest();
  return { msgSeq: place % 2 ** 32, msgRandom: digest.readUInt32BE(0) };
}
