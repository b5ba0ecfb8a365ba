import type { AfterSendMsg } from './callback.js';
import type { RoamMessage } from './client.js';

/** A message of IM's history as its after-send callback would have told it (IM keeps only delivered messages). */
export function afterSendFromHistory(m: RoamMessage): AfterSendMsg {
  return {
    fromAccount: m.From_Account,
    toAccount: m.To_Account,
    msgSeq: m.MsgSeq,
    msgRandom: m.MsgRandom,
    msgTime: m.MsgTimeStamp,
    msgKey: m.MsgKey,
    msgBody: m.MsgBody,
    ...(m.CloudCustomData ? { cloudCustomData: m.CloudCustomData } : {}),
    sendMsgResult: 0,
    ...(isRecalled(m) ? { recalled: true as const } : {}),
  };
}

/** The order a sender's messages were sent in: IM's one-to-one history sorts by time in seconds, then MsgSeq. */
export function sentOrder(a: { msgTime: number; msgSeq: number }, b: { msgTime: number; msgSeq: number }): number {
  return a.msgTime - b.msgTime || a.msgSeq - b.msgSeq;
}

/** `MsgFlagBits` of a recalled message: IM's history still lists it, flagged (0 is a normal message). */
export const RECALLED_FLAG = 8;

/** Whether IM's history shows the message as recalled by its sender: never to deliver, nor to store again. */
export function isRecalled(m: Pick<RoamMessage, 'MsgFlagBits'>): boolean {
  return ((m.MsgFlagBits ?? 0) & RECALLED_FLAG) !== 0;
}
