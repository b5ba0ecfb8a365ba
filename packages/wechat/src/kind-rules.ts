import type { MessageKind, WechatMessage } from './messages.js';

/**
 * What a customer's push lets the Official Account send back through the customer-service API
 * (WeChat's rules since June 2023): `message`, 5 replies within 48 hours; `action` (a follow, a QR
 * code scan, a click on a click/scan-push menu item), 3 replies within 1 minute.
 */
export type WindowOpening = 'message' | 'action';

export interface KindRule {
  /** Whether an agent sees the push; a relayed push also takes its turn in its customer's line. */
  relayed: boolean;
  /** The reply window the push opens, if any. */
  window: WindowOpening | undefined;
}

/**
 * What the relay does with each kind of push, in one place: a new kind does not compile until
 * it has a row here (and, when relayed, a mapping to IM). Not relayed: LOCATION reports (every few
 * seconds while the customer lets the account see where they are), VIEW menu jumps (the customer
 * left for a web page), the platform's reports on the business's own sends and the customer's
 * answers to the relay's rating question (recorded, not a conversation). A kind this
 * version does not know is relayed, so nothing is dropped silently, but opens no window: WeChat's
 * rules name only the kinds above.
 */
export const KIND_RULES = {
  text: { relayed: true, window: 'message' },
  // A tap on a menu message counts, for the customer-service quota, as a click on a menu item.
  rating: { relayed: false, window: 'action' },
  image: { relayed: true, window: 'message' },
  voice: { relayed: true, window: 'message' },
  video: { relayed: true, window: 'message' },
  shortvideo: { relayed: true, window: 'message' },
  location: { relayed: true, window: 'message' },
  link: { relayed: true, window: 'message' },
  subscribe: { relayed: true, window: 'action' },
  scan: { relayed: true, window: 'action' },
  click: { relayed: true, window: 'action' },
  scancode: { relayed: true, window: 'action' },
  unsubscribe: { relayed: true, window: undefined },
  location_event: { relayed: false, window: undefined },
  view: { relayed: false, window: undefined },
  report: { relayed: false, window: undefined },
  unknown: { relayed: true, window: undefined },
} as const satisfies Record<MessageKind, KindRule>;

/** The kinds an agent sees, as the table says. */
export type RelayedKind = { [K in MessageKind]: (typeof KIND_RULES)[K]['relayed'] extends true ? K : never }[MessageKind];

export type RelayedMessage = Extract<WechatMessage, { kind: RelayedKind }>;

/** Whether the push reaches an agent: narrows it to the kinds the IM mapping must cover. */
export function isRelayed(message: WechatMessage): message is RelayedMessage {
  return KIND_RULES[message.kind].relayed;
}
