import { createHash } from 'node:crypto';
import type { AgentSignal } from './payloads.js';

/** A MsgKey as a BullMQ job id may spell it: as it is when it can, else a digest of it. */
function idOf(prefix: string, msgKey: string): string {
  return /^[A-Za-z0-9_-]{1,120}$/.test(msgKey) ? `${prefix}_${msgKey}` : `${prefix}_h${createHash('sha256').update(msgKey).digest('base64url').slice(0, 32)}`;
}

/** The job id of an agent's message in `agent-replies`: from its MsgKey (IM's id), so a repeat is stored once. */
export function replyJobId(msgKey: string): string {
  return idOf('r', msgKey);
}

/**
 * The job id of an agent's signal: a typing message's own MsgKey (typing or stopped), or the
 * recalled message's MsgKey for a recall; a prefix per kind keeps them apart from the replies.
 */
export function signalJobId(signal: AgentSignal, msgKey: string): string {
  return idOf(signal === 'recall' ? 'w' : 't', msgKey);
}
