import { ConfigError } from './config-error.js';
import { type Env, raw } from './readers.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const DAY_NAMES = 'Mon Tue Wed Thu Fri Sat Sun';
const SHAPE = `e.g. "Mon-Fri 09:00-18:00; Sat 10:00-14:00": days (${DAY_NAMES}, a range "Mon-Fri" or a list "Mon,Wed"), then times "HH:MM-HH:MM" (several with ","), entries apart with ";"`;

/** Opening hours in a time zone: minutes of the day open per weekday (0 = Sunday), and closed dates. */
export interface BusinessHours {
  /** BUSINESS_TZ, an IANA zone such as `Asia/Shanghai`. */
  timeZone: string;
  /** Per weekday (0 = Sunday), the open ranges as [from, to) in minutes after local midnight. */
  week: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  /** HOLIDAYS: local dates (`YYYY-MM-DD`) closed all day. */
  holidays: ReadonlySet<string>;
}

function dayIndex(name: string, entry: string): number {
  const i = DAYS.indexOf(name.toLowerCase() as (typeof DAYS)[number]);
  if (i < 0) throw new ConfigError('BUSINESS_HOURS', `names an unknown day "${name}" in "${entry}"`, SHAPE);
  return i;
}

/** `Mon-Fri`, `Sat`, `Mon,Wed,Fri` or `Fri-Mon` (through the weekend) → weekday numbers. */
function daysOf(text: string, entry: string): number[] {
  const days = new Set<number>();
  for (const part of text.split(',')) {
    const [from, to, extra] = part.split('-');
    if (from === undefined || from === '' || extra !== undefined)
      throw new ConfigError('BUSINESS_HOURS', `has days "${text}" in "${entry}" it cannot read`, SHAPE);
    const first = dayIndex(from, entry);
    const last = to === undefined ? first : dayIndex(to, entry);
    for (let d = first; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === last) break;
    }
  }
  return [...days];
}

function minuteOf(clock: string, entry: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(clock);
  const minutes = m === null ? NaN : Number(m[1]) * 60 + Number(m[2]);
  if (m === null || Number(m[2]) > 59 || minutes > 24 * 60)
    throw new ConfigError('BUSINESS_HOURS', `has a time "${clock}" in "${entry}" it cannot read`, SHAPE);
  return minutes;
}

/** `09:00-12:00,13:00-18:00` → minute ranges; an end at or before its start is refused (split a range over midnight in two). */
function rangesOf(text: string, entry: string): Array<[number, number]> {
  return text.split(',').map((range) => {
    const [from, to, extra] = range.split('-');
    if (from === undefined || to === undefined || extra !== undefined)
      throw new ConfigError('BUSINESS_HOURS', `has hours "${range}" in "${entry}" it cannot read`, SHAPE);
    const start = minuteOf(from, entry);
    const end = minuteOf(to, entry);
    if (end <= start) {
      throw new ConfigError(
        'BUSINESS_HOURS',
        `has hours "${range}" in "${entry}" that end before they start`,
        'split hours past midnight in two, e.g. "Fri 22:00-24:00; Sat 00:00-02:00"',
      );
    }
    return [start, end];
  });
}

function timeZone(env: Env): string {
  const zone = raw(env, 'BUSINESS_TZ') ?? 'Asia/Shanghai';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new ConfigError('BUSINESS_TZ', `names an unknown time zone "${zone}"`, 'an IANA time zone such as Asia/Shanghai or Europe/Berlin');
  }
  return zone;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function isoDate(text: string): Date | undefined {
  const m = DATE.exec(text);
  if (m === null) return undefined;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === text ? date : undefined;
}

/** HOLIDAYS: `2026-10-01,2026-12-25` or ranges `2026-10-01..2026-10-07` (at most a year each). */
function holidays(env: Env): Set<string> {
  const dates = new Set<string>();
  const expected = 'comma-separated dates YYYY-MM-DD, or ranges YYYY-MM-DD..YYYY-MM-DD, e.g. 2026-10-01..2026-10-07,2026-12-25';
  for (const item of (raw(env, 'HOLIDAYS') ?? '').split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const [from, to = from] = item.split('..');
    const first = isoDate(from ?? '');
    const last = isoDate(to ?? '');
    if (first === undefined || last === undefined) throw new ConfigError('HOLIDAYS', `has "${item}", which is not a date`, expected);
    const days = (last.getTime() - first.getTime()) / 86_400_000;
    if (days < 0 || days > 366) throw new ConfigError('HOLIDAYS', `has a range "${item}" that ends before it starts or spans over a year`, expected);
    for (let d = 0; d <= days; d++) dates.add(new Date(first.getTime() + d * 86_400_000).toISOString().slice(0, 10));
  }
  return dates;
}

/** BUSINESS_HOURS, BUSINESS_TZ and HOLIDAYS; undefined (always open) when BUSINESS_HOURS is unset. */
export function businessHours(env: Env): BusinessHours | undefined {
  const zone = timeZone(env);
  const closed = holidays(env);
  const text = raw(env, 'BUSINESS_HOURS');
  if (text === undefined) {
    if (closed.size > 0)
      throw new ConfigError('HOLIDAYS', 'is set without BUSINESS_HOURS', 'set the opening hours too, or leave HOLIDAYS unset (unset hours mean always open)');
    return undefined;
  }
  const week: Array<Array<[number, number]>> = DAYS.map(() => []);
  for (const entry of text.split(';').map((s) => s.trim())) {
    if (entry === '') continue;
    const m = /^(\S+)\s+(\S+)$/.exec(entry);
    if (m === null) throw new ConfigError('BUSINESS_HOURS', `has "${entry}", which is not days and hours`, SHAPE);
    const ranges = rangesOf(m[2]!, entry);
    for (const day of daysOf(m[1]!, entry)) week[day]!.push(...ranges);
  }
  for (const ranges of week) ranges.sort((a, b) => a[0] - b[0]);
  if (week.every((r) => r.length === 0)) throw new ConfigError('BUSINESS_HOURS', 'opens on no day', SHAPE);
  return { timeZone: zone, week, holidays: closed };
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** The local date (`YYYY-MM-DD`), weekday (0 = Sunday) and minute of the day of `at` in `zone`. */
export function localTime(at: Date, zone: string): { date: string; weekday: number; minute: number } {
  let format = formats.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    formats.set(zone, format);
  }
  const part = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, p.value]));
  return {
    date: `${part['year']}-${part['month']}-${part['day']}`,
    weekday: dayIndex(part['weekday'] ?? '', 'the clock'),
    minute: Number(part['hour']) * 60 + Number(part['minute']),
  };
}

/** Whether the business is open at `at`; always when no hours are set. */
export function isOpen(hours: BusinessHours | undefined, at: Date): boolean {
  if (hours === undefined) return true;
  const local = localTime(at, hours.timeZone);
  if (hours.holidays.has(local.date)) return false;
  return hours.week[local.weekday]!.some(([from, to]) => local.minute >= from && local.minute < to);
}
