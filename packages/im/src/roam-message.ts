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
  };
}

/** The order a sender's messages were sent in: IM's one-to-one history sorts by time in seconds, then MsgSeq. */
export function sentOrder(a: { msgTime: number; msgSeq: number }, b: { msgTime: number; msgSeq: number }): number {
  return a.msgTime - b.msgTime || a.msgSeq - b.msgSeq;
}
