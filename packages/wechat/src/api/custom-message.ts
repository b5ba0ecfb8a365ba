/**
 * The text of one customer-service message, in UTF-8 bytes. WeChat's pages give no figure; answers
 * on its developer forum measured 2048, the same as a passive reply's (docs/wechat.md).
 */
export const CUSTOM_TEXT_LIMIT_BYTES = 2048;

/** A customer-service message (`message/custom/send`) of the kinds the relay sends. */
export type CustomMessage =
  | { touser: string; msgtype: 'text'; text: { content: string } }
  | { touser: string; msgtype: 'image'; image: { media_id: string } }
  | { touser: string; msgtype: 'voice'; voice: { media_id: string } }
  | { touser: string; msgtype: 'video'; video: { media_id: string; thumb_media_id?: string; title?: string; description?: string } };

export type CustomMsgType = CustomMessage['msgtype'];

export type TypingCommand = 'Typing' | 'CancelTyping';
