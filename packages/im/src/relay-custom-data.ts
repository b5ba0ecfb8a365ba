/**
 * The relay marks its own IM messages in their CloudCustomData (a JSON string): the im-worker's
 * sends of a customer's words, and the pusher's notices to an agent. im-callback tells them from
 * agents' messages by it, and agent tools read the WeChat context in it. IM's history keeps
 * these strings, so the format below is fixed: same fields, same order, as first written.
 */

/** A customer's push relayed to an agent: the WeChat context an agent's tools get. */
export interface WechatOrigin {
  source: 'wechat';
  openid: string;
  /** The push's kind, or WeChat's MsgType for a type the relay does not know. */
  type: string;
  /** Only pushes that are messages have one; kept a string (64-bit). */
  msgId?: string;
  /** Seconds since the epoch, as WeChat gave it. */
  createTime: number;
}

/** A relay notice: the agent's reply `replyTo` (its MsgKey) was not delivered, for `reason`. */
export interface RelayNotice {
  source: 'relay-notice';
  replyTo: string;
  reason: string;
}

/** What the relay writes in CloudCustomData. */
export type RelayCustomData = WechatOrigin | RelayNotice;

/** What a reader gets back: the marker, and each other field only when it is there with its type. */
export type ReadRelayCustomData = Read<WechatOrigin> | Read<RelayNotice>;
type Read<T extends RelayCustomData> = Pick<T, 'source'> & Partial<Omit<T, 'source'>>;

/** The JSON the relay has always written: fields in this order, `msgId` left out when there is none. */
export function encodeRelayCustomData(data: RelayCustomData): string {
  switch (data.source) {
    case 'wechat':
      return JSON.stringify({
        source: data.source,
        openid: data.openid,
        type: data.type,
        ...(data.msgId === undefined ? {} : { msgId: data.msgId }),
        createTime: data.createTime,
      });
    case 'relay-notice':
      return JSON.stringify({ source: data.source, replyTo: data.replyTo, reason: data.reason });
  }
}

/**
 * The relay's data in a message's CloudCustomData, or undefined when it is not the relay's (an
 * agent client's own data, no data, not JSON, not an object). The marker alone makes it ours, as
 * im-callback has always read it: a message that carries it is never relayed to a customer,
 * whatever else it holds. The relay's delivery mark (`relayMark`, below) is not the marker: an agent's
 * marked reply decodes to undefined, an agent's message as before. Never throws: the string comes from IM, and from agents' clients.
 */
export function decodeRelayCustomData(raw: string | undefined): ReadRelayCustomData | undefined {
  if (raw === undefined || raw === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const data = value as Record<string, unknown>;
  switch (data['source']) {
    case 'wechat':
      return {
        source: 'wechat',
        ...stringField(data, 'openid'),
        ...stringField(data, 'type'),
        ...stringField(data, 'msgId'),
        ...(typeof data['createTime'] === 'number' ? { createTime: data['createTime'] } : {}),
      };
    case 'relay-notice':
      return { source: 'relay-notice', ...stringField(data, 'replyTo'), ...stringField(data, 'reason') };
    default:
      return undefined;
  }
}

function stringField<K extends string>(data: Record<string, unknown>, key: K): { [P in K]?: string } {
  const value = data[key];
  return (typeof value === 'string' ? { [key]: value } : {}) as { [P in K]?: string };
}

/** Where an agent's reply stands, as the relay marks it on the agent's own message. */
export type RelayMarkState = 'queued' | 'delivered' | 'not_delivered';

/**
 * The relay's mark on an agent's reply: one key, `relayMark`, merged into the CloudCustomData the
 * agent's client wrote. It is not the `source` marker above: a marked message is still the agent's.
 */
export interface RelayMark {
  state: RelayMarkState;
  /** Milliseconds since the epoch when the relay knew it. */
  at: number;
  /** Why it was not delivered, in plain words; only with `not_delivered`. */
  reason?: string;
}

export const RELAY_MARK_KEY = 'relayMark';
/** IM keeps CloudCustomData small (it travels with every copy of the message): a reason is cut to this. */
export const MAX_MARK_REASON_CHARS = 300;
const STATES: readonly string[] = ['queued', 'delivered', 'not_delivered'] satisfies RelayMarkState[];

/**
 * The agent client's CloudCustomData with the mark merged in, every other key kept as the client
 * wrote it (TUIKit keeps replies and reactions there); a mark already there is replaced. `raw` is
 * what IM holds, '' when the message has none: a caller that does not know it must not mark (the
 * mark alone would erase the client's data). Undefined when the data is not a JSON object (a
 * client's own string): the relay leaves that alone.
 */
export function withRelayMark(raw: string, mark: RelayMark): string | undefined {
  let data: Record<string, unknown> = {};
  if (raw !== '') {
    const value = parseObject(raw);
    if (value === undefined) return undefined;
    data = value;
  }
  const written: RelayMark = { state: mark.state, at: mark.at };
  if (mark.reason !== undefined) written.reason = cut(mark.reason, MAX_MARK_REASON_CHARS);
  return JSON.stringify({ ...data, [RELAY_MARK_KEY]: written });
}

/** The relay's mark in a message's CloudCustomData, when there is a well-formed one. Never throws. */
export function readRelayMark(raw: string | undefined): RelayMark | undefined {
  if (raw === undefined || raw === '') return undefined;
  const mark = parseObject(raw)?.[RELAY_MARK_KEY];
  if (typeof mark !== 'object' || mark === null || Array.isArray(mark)) return undefined;
  const { state, at, reason } = mark as Record<string, unknown>;
  if (typeof state !== 'string' || !STATES.includes(state) || typeof at !== 'number') return undefined;
  return { state: state as RelayMarkState, at, ...(typeof reason === 'string' ? { reason } : {}) };
}

function parseObject(raw: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** At most `max` characters (code points: a cut never splits an emoji), with an ellipsis when cut. */
function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
