import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { type BusinessHours, businessHours } from './business-hours.js';
import { ConfigError } from './config-error.js';
import { type Env, integer, raw } from './readers.js';

export const DEFAULT_WAITING_TEXT = 'Thank you for your message. All our agents are busy right now; the first one free will answer you here.';
export const DEFAULT_OFF_HOURS_TEXT = 'Thank you for your message. We are closed right now; an agent will answer you here when we open.';

/** How the relay runs as a service desk: who gets a new customer, and what a customer is told while nobody can answer. */
export interface DeskSettings {
  /** AGENT_MAX_OPEN: open conversations an agent takes before new customers go to others (or wait). */
  maxOpen: number;
  /** WAITING_TEXT: told to a customer whose conversation waits for a free agent (empty: nothing). */
  waitingText: string;
  /** OFF_HOURS_TEXT: told to a customer who writes outside BUSINESS_HOURS (empty: nothing). */
  offHoursText: string;
  /** CLOSE_AFTER_IDLE: a conversation without a message from its customer this long closes and frees its agent's place (ms). */
  closeAfterIdleMs: number;
  /** AUTO_REPLY_EVERY: at most one waiting or off-hours text per customer this often (ms). */
  autoReplyEveryMs: number;
  /** BUSINESS_HOURS, BUSINESS_TZ, HOLIDAYS; undefined: always open. */
  hours?: BusinessHours;
  /** CANNED_REPLIES: the canned replies by code (`/r <code>`), read from the file at start. */
  cannedReplies: ReadonlyMap<string, string>;
  /** CSAT_TEXT: the rating question sent to the customer after an agent's /close; undefined: none is asked. */
  csatText?: string;
  /**
   * FIRST_RESPONSE_SLA_S: a customer's message unanswered by their agent this long (ms) moves the
   * conversation to another agent online with room; undefined: off.
   */
  firstResponseSlaMs?: number;
  /**
   * WINDOW_WARNING_MS: the agent is told once when the customer's reply window closes within this
   * (ms) with their last message unanswered; 0: never.
   */
  windowWarningMs: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `12h`, `30m`, `90s` or `1d`, from a minute to 30 days. */
function duration(env: Env, name: string, fallback: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(value);
  const ms = m === null ? NaN : Number(m[1]) * UNITS[m[2]!]!;
  if (!(ms >= 60_000 && ms <= 30 * 86_400_000)) throw new ConfigError(name, 'is malformed', 'a duration from 1m to 30d, e.g. 12h, 30m or 1d');
  return ms;
}

/** A text the customer is sent as a passive reply: WeChat takes at most 2048 bytes. */
function customerText(env: Env, name: string, fallback: string): string {
  const text = env[name] ?? fallback;
  if (Buffer.byteLength(text) > 2048) throw new ConfigError(name, 'is too long', 'at most 2048 bytes (empty sends nothing)');
  return text.trim();
}

/**
 * CSAT_TEXT: the question above the scores 1 to 5 of the rating menu. WeChat gives no limit for a
 * menu's text on its Official Account pages; WeCom's customer-service API, which sends the same
 * menu, allows 1024 bytes.
 */
function csatText(env: Env): string | undefined {
  const text = raw(env, 'CSAT_TEXT');
  if (text === undefined) return undefined;
  if (Buffer.byteLength(text) > 1024)
    throw new ConfigError('CSAT_TEXT', 'is too long', 'at most 1024 bytes, e.g. How did we do? Tap a score from 1 (poor) to 5 (great).');
  return text;
}

const CODE = /^[A-Za-z0-9_-]{1,32}$/;

/** CANNED_REPLIES: a JSON or YAML file mapping each code to its text, e.g. `hours: We are open 9-18.` */
function cannedReplies(env: Env): Map<string, string> {
  const file = raw(env, 'CANNED_REPLIES');
  const replies = new Map<string, string>();
  if (file === undefined) return replies;
  const expected = 'a JSON or YAML file of codes (letters, digits, _ or -, up to 32) to reply texts, e.g. {"hours": "We are open Mon-Fri 9:00-18:00."}';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('CANNED_REPLIES', `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, expected);
  }
  let data: unknown;
  try {
    data = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError('CANNED_REPLIES', `is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'} (${(err as Error).message.split('\n')[0]})`, expected);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ConfigError('CANNED_REPLIES', 'does not hold a map of codes to texts', expected);
  for (const [code, reply] of Object.entries(data)) {
    if (!CODE.test(code)) throw new ConfigError('CANNED_REPLIES', `has a code "${code}" that is not letters, digits, _ or -`, expected);
    if (typeof reply !== 'string' || reply.trim() === '') throw new ConfigError('CANNED_REPLIES', `has no text for "${code}"`, expected);
    replies.set(code.toLowerCase(), reply.trim());
  }
  if (replies.size === 0) throw new ConfigError('CANNED_REPLIES', 'holds no reply', expected);
  return replies;
}

/** FIRST_RESPONSE_SLA_S, in ms; unset or empty: off. */
function firstResponseSla(env: Env): number | undefined {
  if (raw(env, 'FIRST_RESPONSE_SLA_S') === undefined) return undefined;
  return integer(env, 'FIRST_RESPONSE_SLA_S', 10, 86_400, 0) * 1000;
}

export function deskSettings(env: Env): DeskSettings {
  const hours = businessHours(env);
  const csat = csatText(env);
  const firstResponseSlaMs = firstResponseSla(env);
  return {
    maxOpen: integer(env, 'AGENT_MAX_OPEN', 1, 10_000, 20),
    waitingText: customerText(env, 'WAITING_TEXT', DEFAULT_WAITING_TEXT),
    offHoursText: customerText(env, 'OFF_HOURS_TEXT', DEFAULT_OFF_HOURS_TEXT),
    autoReplyEveryMs: duration(env, 'AUTO_REPLY_EVERY', 12 * 3_600_000),
    // WeChat lets an agent answer for 48 hours after the customer's last message: past that the conversation holds no place.
    closeAfterIdleMs: duration(env, 'CLOSE_AFTER_IDLE', 48 * 3_600_000),
    ...(hours === undefined ? {} : { hours }),
    cannedReplies: cannedReplies(env),
    ...(csat === undefined ? {} : { csatText: csat }),
    ...(firstResponseSlaMs === undefined ? {} : { firstResponseSlaMs }),
    // Up to the whole of the 48 hours a customer's message opens.
    windowWarningMs: integer(env, 'WINDOW_WARNING_MS', 0, 48 * 3_600_000, 2 * 3_600_000),
  };
}
