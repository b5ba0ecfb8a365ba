import { createHash } from 'node:crypto';

/**
 * IM's MsgSeq and MsgRandom for one WeChat push, fixed for its job: every attempt, on any
 * worker, sends the same pair, so IM drops a resend within 120 s, and a new push never matches.
 *
 * IM shows a one-to-one history sorted by time in seconds, then by MsgSeq within a second. So
 * MsgSeq follows the order the gateway stored pushes in: the job's place in its line, a
 * Redis-side sequence shared by every gateway (modulo 2^32). MsgRandom is drawn from the push's
 * dedupe id.
 *
 * IM's repeat check leaves the recipient out: a push sent to the agent who served the customer, then
 * (its answer lost) sent again to the agent they were handed on to, would be dropped as a repeat.
 * So a push going to another agent than its first attempt did (`handedOnTo`) has a MsgRandom drawn
 * from that agent too: fixed for every attempt to them, never the first agent's.
 */
export function imMessageIds(dedupeId: string, place: number, handedOnTo?: string): { msgSeq: number; msgRandom: number } {
  const digest = createHash('sha256')
    .update(handedOnTo === undefined ? dedupeId : `${dedupeId}\n${handedOnTo}`)
    .digest();
  return { msgSeq: place % 2 ** 32, msgRandom: digest.readUInt32BE(0) };
}
