/**
 * The text of one customer-service message, in UTF-8 bytes. WeChat's pages give no figure; answers
 * on its developer forum measured 2048, the same as a passive reply's (docs/wechat.md).
 */
export const CUSTOM_TEXT_LIMIT_BYTES = 2048;

/**
 * The text above a menu message's options (`head_content`), in UTF-8 bytes. The Official Account
 * pages give no figure; WeCom's customer-service API, which sends the same menu, allows 1024.
 */
export const MENU_HEAD_LIMIT_BYTES = 1024;

/** One option of a menu message: tapped, it comes back as a text push of `content` with `bizmsgmenuid` = `id`. */
export interface MenuOption {
  id: string;
  content: string;
}

/** A customer-service message (`message/custom/send`) of the kinds the relay sends. */
export type CustomMessage =
  | { touser: string; msgtype: 'text'; text: { content: string } }
  | { touser: string; msgtype: 'image'; image: { media_id: string } }
  | { touser: string; msgtype: 'voice'; voice: { media_id: string } }
  | { touser: string; msgtype: 'video'; video: { media_id: string; thumb_media_id?: string; title?: string; description?: string } }
  | { touser: string; msgtype: 'msgmenu'; msgmenu: { head_content: string; list: MenuOption[]; tail_content: string } };

export type CustomMsgType = CustomMessage['msgtype'];

export type TypingCommand = 'Typing' | 'CancelTyping';
