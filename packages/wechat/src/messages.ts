import type { RatingScore } from './rating-menu.js';

/** Typed WeChat pushes. Field names follow WeChat's, in camelCase; `msgId` stays a string (64-bit). */
interface Common {
  /** The Official Account's original id (gh_…). */
  toUserName: string;
  /** The customer's openid. */
  fromUserName: string;
  /** Seconds since the epoch. */
  createTime: number;
}

export interface TextMessage extends Common {
  kind: 'text';
  msgId: string;
  content: string;
  /** `bizmsgmenuid`: the option tapped in a menu (a msgmenu, or a `weixin://bizmsgmenu` link) that is not a rating option; the text is the option's. */
  menuId?: string;
}

/**
 * A tap on an option of one of the relay's rating questions (the msgmenu sent after an agent's
 * /close). WeChat pushes it as a text, the option's id in `bizmsgmenuid` (see readRatingOption);
 * it answers the question and is no message for an agent.
 */
export interface RatingAnswer extends Common {
  kind: 'rating';
  msgId: string;
  /** The option's text, as the customer saw it. */
  content: string;
  /** Which close the question was asked for: 8 digits (see ratingOptionId). */
  close: string;
  score: RatingScore;
}
export interface ImageMessage extends Common {
  kind: 'image';
  msgId: string;
  picUrl: string;
  mediaId: string;
}
export interface VoiceMessage extends Common {
  kind: 'voice';
  msgId: string;
  mediaId: string;
  format: string;
  recognition?: string;
}
export interface VideoMessage extends Common {
  kind: 'video' | 'shortvideo';
  msgId: string;
  mediaId: string;
  thumbMediaId: string;
}
export interface LocationMessage extends Common {
  kind: 'location';
  msgId: string;
  latitude: number;
  longitude: number;
  scale: number;
  label: string;
}
export interface LinkMessage extends Common {
  kind: 'link';
  msgId: string;
  title: string;
  description: string;
  url: string;
}

export interface SubscribeEvent extends Common {
  kind: 'subscribe';
  eventKey?: string;
  ticket?: string;
}
export interface UnsubscribeEvent extends Common {
  kind: 'unsubscribe';
}
export interface ScanEvent extends Common {
  kind: 'scan';
  eventKey: string;
  ticket?: string;
}
export interface LocationEvent extends Common {
  kind: 'location_event';
  latitude: number;
  longitude: number;
  precision: number;
}
export interface ClickEvent extends Common {
  kind: 'click';
  eventKey: string;
}
/**
 * A tap on a scan-code menu item, then the scan: `scancode_push` (the result opened in the
 * customer's WeChat as well) or `scancode_waitmsg` (the customer waits for the account's answer).
 * What was scanned comes in ScanCodeInfo: its type (`qrcode`, `barcode`) and its text.
 */
export interface ScancodeEvent extends Common {
  kind: 'scancode';
  event: 'scancode_push' | 'scancode_waitmsg';
  eventKey: string;
  scanType: string;
  scanResult: string;
}
export interface ViewEvent extends Common {
  kind: 'view';
  eventKey: string;
}

/**
 * A report the platform sends about the business's own actions, not a customer's: the result of
 * each template message (TEMPLATESENDJOBFINISH, sent from the recipient's openid), of a mass send
 * or of a publication. Not relayed to agents.
 */
export interface ReportEvent extends Common {
  kind: 'report';
  event: string;
}

/** The events that are reports (see ReportEvent), in lower case. */
export const REPORT_EVENTS: ReadonlySet<string> = new Set([
  'templatesendjobfinish',
  'masssendjobfinish',
  'publishjobfinish',
  'freepublishjobfinish',
  'subscribe_msg_sent_event',
]);

/** A type or event this version does not know: kept whole so nothing is silently dropped. */
export interface UnknownMessage extends Common {
  kind: 'unknown';
  msgType: string;
  event?: string;
  msgId?: string;
  fields: Record<string, string>;
}

export type WechatMessage =
  | ScancodeEvent
  | TextMessage
  | RatingAnswer
  | ImageMessage
  | VoiceMessage
  | VideoMessage
  | LocationMessage
  | LinkMessage
  | SubscribeEvent
  | UnsubscribeEvent
  | ScanEvent
  | LocationEvent
  | ClickEvent
  | ViewEvent
  | ReportEvent
  | UnknownMessage;

export type MessageKind = WechatMessage['kind'];
