/** The WeChat APIs the relay calls, each under `/cgi-bin/` (docs/wechat.md), by what they do. */
export const WECHAT_APIS = {
  send: 'message/custom/send',
  typing: 'message/custom/typing',
  upload: 'media/upload',
  download: 'media/get',
} as const;

export type WechatApiName = (typeof WECHAT_APIS)[keyof typeof WECHAT_APIS];

/** What the wechat-pusher calls to answer customers: the APIs an agent's reply spends quota on. */
export const REPLY_APIS: readonly WechatApiName[] = [WECHAT_APIS.send, WECHAT_APIS.typing, WECHAT_APIS.upload];
