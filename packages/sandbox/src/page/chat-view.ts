import { decodeRelayCustomData, readRelayMark } from '@wxim/im';
import type { ReceivedMessage } from '../im-simulator.js';
import type { DeliveredMessage } from '../wechat-api-simulator.js';

/** One line of a chat on the sandbox page; always shown as text (an image also by its address). */
export interface ChatItem {
  id: string;
  /** Milliseconds since the epoch. */
  at: number;
  /** `customer` and `agent` wrote it; `business` is what the Official Account sent the customer; `relay` a relay notice to the agent. */
  from: 'customer' | 'agent' | 'business' | 'relay';
  text: string;
  /** The image's address, for a photo. */
  image?: string;
  /** A sound the agent can play (a customer's voice message, converted by the relay). */
  sound?: string;
  /** A video the agent can play, with its thumbnail. */
  video?: { url: string; poster?: string };
  /** On an agent's message: the relay's delivery mark (what WeChat made of the reply). */
  mark?: { state: string; reason?: string };
  /** On an agent's message: they recalled it in IM. */
  recalled?: true;
  /** What became of it so far, e.g. the gateway's answer. */
  note?: string;
}

/** What the page did as the customer: the pushes it made and the gateway's answers. */
export interface CustomerAct extends ChatItem {
  openid: string;
  /** The push's MsgId, for a message: how its arrival in IM is recognised. */
  msgId?: string;
}

/** The agent pane: one agent's conversation with one customer, as the IM simulator holds it. */
export interface AgentConversation {
  items: ChatItem[];
  /** The customer's IM account (the relay's, per customer), once the customer's first message reached IM. */
  customerAccount?: string;
  /** The agent the relay gave the customer to, by the latest message. */
  servedBy?: string;
}

/** A field of a message as text: strings and numbers as they are, anything else empty. */
function str(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

/** Whole seconds as the page shows a length: `12 s`, `1:05`. */
function length(seconds: unknown): string {
  const s = typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds) : 0;
  if (s === 0) return '';
  return s >= 60 ? `, ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : `, ${s} s`;
}

/** An IM message body as a line of text, and the addresses of its image, sound or video if it has one. */
export function imBodyText(body: ReceivedMessage['body']): Pick<ChatItem, 'text' | 'image' | 'sound' | 'video'> {
  let image: string | undefined;
  let sound: string | undefined;
  let video: ChatItem['video'];
  const parts = body.map(({ MsgType: type, MsgContent: content }) => {
    switch (type) {
      case 'TIMTextElem':
        return str(content['Text']);
      case 'TIMImageElem': {
        const info = (content['ImageInfoArray'] as { URL?: unknown }[] | undefined)?.[0];
        if (typeof info?.URL === 'string') image = info.URL;
        return '[photo]';
      }
      case 'TIMSoundElem':
        if (typeof content['Url'] === 'string') sound = content['Url'];
        return `[voice message${length(content['Second'])}]`;
      case 'TIMVideoFileElem':
        if (typeof content['VideoUrl'] === 'string')
          video = { url: content['VideoUrl'], ...(typeof content['ThumbUrl'] === 'string' ? { poster: content['ThumbUrl'] } : {}) };
        return `[video${length(content['VideoSecond'])}]`;
      case 'TIMLocationElem':
        return `[location] ${str(content['Desc'])} (${str(content['Latitude'])}, ${str(content['Longitude'])})`;
      case 'TIMCustomElem':
        return str(content['Desc']) || str(content['Data']) || '[custom message]';
      default:
        return `[${type}]`;
    }
  });
  return {
    text: parts.join(' '),
    ...(image === undefined ? {} : { image }),
    ...(sound === undefined ? {} : { sound }),
    ...(video === undefined ? {} : { video }),
  };
}

/** Which agent each customer message (by MsgId) reached in IM. */
export function arrivals(messages: readonly ReceivedMessage[]): Map<string, string> {
  const arrived = new Map<string, string>();
  for (const m of messages) {
    const data = decodeRelayCustomData(m.cloudCustomData);
    if (data?.source === 'wechat' && data.msgId !== undefined) arrived.set(data.msgId, m.to);
  }
  return arrived;
}

/**
 * What the customer sees: what they did (with how far each message has travelled), and what the
 * Official Account sent them through WeChat's customer-service API.
 */
export function customerPane(
  acts: readonly CustomerAct[],
  sent: readonly DeliveredMessage[],
  openid: string,
  arrived: ReadonlyMap<string, string>,
  mediaPath: (mediaId: string) => string,
): ChatItem[] {
  const own = acts
    .filter((a) => a.openid === openid)
    .map(({ openid: _openid, msgId, ...item }): ChatItem => {
      const agent = msgId === undefined ? undefined : arrived.get(msgId);
      return agent === undefined ? item : { ...item, note: `${item.note ?? ''} · reached ${agent} in IM` };
    });
  const received = sent
    .map((m, i) => ({ m, i }))
    .filter(({ m }) => m.openid === openid)
    .map(({ m, i }): ChatItem => {
      const mediaId = m.payload['media_id'];
      if (m.msgtype === 'text') return { id: `wx${i}`, at: m.receivedAt, from: 'business', text: str(m.payload['content']) };
      if (m.msgtype === 'image' && typeof mediaId === 'string')
        return { id: `wx${i}`, at: m.receivedAt, from: 'business', text: '[photo]', image: mediaPath(mediaId) };
      if (m.msgtype === 'msgmenu') return { id: `wx${i}`, at: m.receivedAt, from: 'business', text: menuText(m.payload) };
      return { id: `wx${i}`, at: m.receivedAt, from: 'business', text: `[${m.msgtype}]` };
    });
  return [...own, ...received].sort((a, b) => a.at - b.at);
}

/** What `agent` sees of the customer `openid`: the customer's messages, the agent's own, and relay notices about them. */
export function agentConversation(messages: readonly ReceivedMessage[], agent: string, openid: string): AgentConversation {
  let customerAccount: string | undefined;
  let servedBy: string | undefined;
  for (const m of messages) {
    const data = decodeRelayCustomData(m.cloudCustomData);
    if (data?.source === 'wechat' && data.openid === openid) {
      customerAccount = m.from;
      servedBy = m.to;
    }
  }
  if (customerAccount === undefined) return { items: [] };
  const agentKeys = new Set<string>();
  const items: ChatItem[] = [];
  for (const m of messages) {
    const data = decodeRelayCustomData(m.cloudCustomData);
    const item = (from: ChatItem['from']): ChatItem => ({ id: m.msgKey, at: m.receivedAt, from, ...imBodyText(m.body) });
    // A relay notice comes in the customer's conversation (from their account), about a reply of the agent's.
    if (data?.source === 'relay-notice') {
      if (m.to === agent && (m.from === customerAccount || (data.replyTo !== undefined && agentKeys.has(data.replyTo)))) items.push(item('relay'));
    } else if (m.from === customerAccount && m.to === agent) items.push(item('customer'));
    else if (m.from === agent && m.to === customerAccount) {
      agentKeys.add(m.msgKey);
      const mark = readRelayMark(m.cloudCustomData);
      items.push({
        ...item('agent'),
        ...(mark === undefined ? {} : { mark: { state: mark.state, ...(mark.reason === undefined ? {} : { reason: mark.reason }) } }),
        ...(m.recalled === true ? { recalled: true, note: 'recalled' } : {}),
      });
    }
  }
  return { items, customerAccount, ...(servedBy === undefined ? {} : { servedBy }) };
}

/** A menu message as the customer reads it: its text, then its options (the page shows them; tapping is for the tests' WechatPlatform). */
function menuText(payload: Record<string, unknown>): string {
  const list = Array.isArray(payload['list']) ? (payload['list'] as unknown[]) : [];
  const options = list.map((o) => str((o as Record<string, unknown> | null)?.['content'])).filter((c) => c !== '');
  return [str(payload['head_content']), options.map((o) => `[${o}]`).join(' '), str(payload['tail_content'])].filter((l) => l !== '').join('\n');
}
