import type { CallbackMsgElement } from './callback.js';

/**
 * TUIKit's "typing" indicator: an online-only (OnlineOnlyFlag 1) one-to-one message of one
 * TIMCustomElem whose Data is JSON with `businessID: "user_typing_status"` and `typingStatus`
 * 1 (typing) or 0 (stopped). Older clients set only `actionParam` ("EIMAMSG_InputStatus_Ing" /
 * "EIMAMSG_InputStatus_End"). IM keeps no history of it. Pure: no I/O.
 */
export const TYPING_BUSINESS_ID = 'user_typing_status';

/** The Data TUIKit sends, as the IM simulator sends it too. */
export function typingData(typing: boolean): string {
  return JSON.stringify({
    businessID: TYPING_BUSINESS_ID,
    typingStatus: typing ? 1 : 0,
    version: 1,
    userAction: typing ? 14 : 0,
    actionParam: typing ? 'EIMAMSG_InputStatus_Ing' : 'EIMAMSG_InputStatus_End',
  });
}

/** Whether the message body is TUIKit's typing indicator: `true` typing, `false` stopped; undefined when it is something else. */
export function typingOf(body: readonly CallbackMsgElement[]): boolean | undefined {
  if (body.length !== 1 || body[0]!.MsgType !== 'TIMCustomElem') return undefined;
  const data = body[0]!.MsgContent['Data'];
  if (typeof data !== 'string' || data.length > 1024) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const d = parsed as Record<string, unknown>;
  if (d['businessID'] === TYPING_BUSINESS_ID && (d['typingStatus'] === 0 || d['typingStatus'] === 1)) return d['typingStatus'] === 1;
  if (d['actionParam'] === 'EIMAMSG_InputStatus_Ing') return true;
  if (d['actionParam'] === 'EIMAMSG_InputStatus_End') return false;
  return undefined;
}
