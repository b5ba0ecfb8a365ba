import type { AfterSendMsg } from '@wxim/im';
import type { WechatMessage } from '@wxim/wechat';

/** One job of `wechat-inbound`: a verified, decrypted WeChat push. */
export interface InboundJob {
  message: WechatMessage;
  /** Milliseconds since the epoch when the gateway accepted the push. */
  receivedAt: number;
}

/** An element of an IM message body, as IM sent it (validated at the callback). */
export interface ReplyElement {
  MsgType: string;
  MsgContent: Record<string, unknown>;
}

/**
 * What an agent did in IM that is not a message to deliver: started or stopped typing to the
 * customer (TUIKit's online-only typing message), or recalled a message (IM's withdraw callback).
 */
export type AgentSignal = 'typing' | 'typing-stop' | 'recall';

/**
 * What an agent's recall did to the recalled reply, decided when the recall came (im-callback):
 * `stopped` — none of it went, and it never will (also when it is not stored yet); `too_late` — it
 * reached the customer (WeChat has no recall); `unknown` — it ended before the relay kept how, so
 * it may have; `finished` — it had ended without reaching the customer (its agent was told why then).
 */
export type RecallOutcome = 'stopped' | 'too_late' | 'unknown' | 'finished' | 'carried_out';

/** One job of `agent-replies`: an agent's one-to-one message to a customer, to deliver through WeChat. */
export interface ReplyJob {
  /**
   * Set on a signal (no body to deliver; `msgKey` is the typing message's, or the recalled
   * message's). A signal takes no turn in the customer's reply line and is never delivered.
   */
  signal?: AgentSignal;
  /** On a recall: what it did, decided when im-callback took it (absent in jobs stored by the release before). */
  recall?: RecallOutcome;
  agent: string;
  /** The customer's IM UserID (the message's To_Account) and their openid. */
  userId: string;
  openid: string;
  msgKey: string;
  /** Seconds, IM's time of the message. */
  msgTime: number;
  /** The sender's numbering of the message (absent in jobs stored by the release before). */
  msgSeq?: number;
  msgRandom?: number;
  body: ReplyElement[];
  /**
   * The message's CloudCustomData as IM gave it (the callback's, or the history's for a reply found
   * there): the agent client's own data, which a delivery mark is merged into; '' when it has none.
   * Absent in jobs stored by a release that did not keep it: not known, so the message is not marked.
   */
  cloudCustomData?: string;
  /** Milliseconds since the epoch when the relay stored it. */
  acceptedAt: number;
  /**
   * How it reached the relay: IM's callback (confirmed in IM's history before it is delivered),
   * or IM's history itself — after a gap in which callbacks may have been missed (`recovery`), or
   * by the periodic sweep (`sweep`).
   */
  via: 'callback' | 'recovery' | 'sweep';
}

/**
 * The start of the failure reason of a reply the wechat-pusher refused because IM's history did
 * not show its agent sent it (written by the pusher, read by im-callback: a later look that finds
 * the very message in the history gives the reply another try).
 */
export const UNCONFIRMED_REASON = "not delivered, not confirmed in IM's history";

/**
 * Whether a message of IM's history is the very reply a job holds: same sender, customer, time
 * and MsgKey's numbering (MsgSeq and MsgRandom, when the job has them: the release before did
 * not keep them).
 */
export function isSameReply(job: ReplyJob, msg: AfterSendMsg): boolean {
  return (
    job.msgKey === msg.msgKey &&
    job.agent === msg.fromAccount &&
    job.userId === msg.toAccount &&
    job.msgTime === msg.msgTime &&
    (job.msgSeq ?? msg.msgSeq) === msg.msgSeq &&
    (job.msgRandom ?? msg.msgRandom) === msg.msgRandom
  );
}
