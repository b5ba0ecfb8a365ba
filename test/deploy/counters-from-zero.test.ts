import { readFileSync } from 'node:fs';
import { createCallbackMetrics } from '@wxim/im-callback';
import { createImWorkerMetrics } from '@wxim/im-worker';
import { createGatewayMetrics } from '@wxim/wechat-gateway';
import { createPusherMetrics } from '@wxim/wechat-pusher';
import t from 'tap';
import { parse } from 'yaml';

// Prometheus takes a counter's first sample as its baseline: a series first scraped at 1 shows
// no increase, so the alerts on failures (WximInboundRelaysFailed, WximRepliesFailed,
// WximRepliesUnconfirmed) would miss each pod's first one. Those series are exported at 0 from
// the start.
t.test("im-worker exports every kind's failed relays at 0 before any push", async (t) => {
  const text = await createImWorkerMetrics().registry.metrics();
  for (const kind of ['text', 'image', 'voice', 'video', 'shortvideo', 'location', 'link', 'subscribe', 'unsubscribe', 'unknown'])
    t.match(text, new RegExp(`^wxim_im_relayed_total\\{kind="${kind}",outcome="failed"\\} 0$`, 'm'), kind);
});

t.test('wechat-pusher exports failed and unconfirmed replies at 0 for each way a reply arrives', async (t) => {
  const text = await createPusherMetrics().registry.metrics();
  for (const outcome of ['failed', 'unconfirmed'])
    for (const via of ['callback', 'recovery', 'sweep'])
      t.match(text, new RegExp(`^wxim_pusher_replies_total\\{outcome="${outcome}",via="${via}"\\} 0$`, 'm'), `${outcome} via ${via}`);
});

t.test('wechat-pusher exports failed delivery marks at 0 for each state', async (t) => {
  const text = await createPusherMetrics().registry.metrics();
  for (const state of ['queued', 'delivered', 'not_delivered'])
    t.match(text, new RegExp(`^wxim_pusher_delivery_marks_total\\{state="${state}",outcome="failed"\\} 0$`, 'm'), state);
});

// And every counter series any alert watches for one event, read from alerts.yml itself.
const alerts = (
  parse(readFileSync(new URL('../../deploy/prometheus/alerts.yml', import.meta.url), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }
).groups.flatMap((g) => g.rules);

/** Watched with an open set of values, or only past a count no first event reaches: no baseline is owed. */
const EXEMPT: Record<string, string> = {
  wxim_wechat_token_fetches_total: 'outcome!="ok": any of WeChat errcodes, and a failing fetch is tried again at once',
};

const registries = [createGatewayMetrics().registry, createImWorkerMetrics().registry, createCallbackMetrics().registry, createPusherMetrics().registry];
const exported = (await Promise.all(registries.map((r) => r.metrics()))).join('\n').split('\n');

interface Watched {
  alert: string;
  metric: string;
  /** Each label the selector fixes, with the values it accepts (one, or a regex's alternatives). */
  labels: [string, string[]][];
}

/** The alerts that fire on one event: a single increase() or rate() of a counter, `> 0` (shares and counts past a threshold need more than a first). */
function watched(): Watched[] {
  const found: Watched[] = [];
  for (const rule of alerts) {
    const calls = [...rule.expr.matchAll(/\b(?:increase|rate)\((wxim_[a-z_]+_total)\{([^}]*)\}\[/g)];
    if (calls.length !== 1 || !/\)\s*>\s*0\s*$/.test(rule.expr)) continue;
    for (const m of calls) {
      const labels: [string, string[]][] = [];
      for (const [, name, op, value] of m[2]!.matchAll(/(\w+)\s*(=~|!=|!~|=)\s*"([^"]*)"/g)) {
        if (op === '=') labels.push([name!, [value!]]);
        else if (op === '=~' && /^[\w|]+$/.test(value!)) labels.push([name!, value!.split('|')]);
      }
      if (labels.length > 0) found.push({ alert: rule.alert, metric: m[1]!, labels });
    }
  }
  return found;
}

t.test('every counter series an alert watches with increase() or rate() starts at 0', async (t) => {
  const all = watched();
  t.ok(all.length >= 12, `selectors found in alerts.yml (${all.length})`);
  for (const w of all) {
    if (EXEMPT[w.metric] !== undefined) continue;
    // Every combination of the values the selector accepts: one series each, at 0.
    let combos: [string, string][][] = [[]];
    for (const [name, values] of w.labels) combos = combos.flatMap((c) => values.map((v) => [...c, [name, v] as [string, string]]));
    for (const combo of combos) {
      const wanted = combo.map(([name, value]) => `${name}="${value}"`);
      const line = exported.find((l) => l.startsWith(`${w.metric}{`) && wanted.every((label) => l.includes(label)));
      t.equal(line?.split(' ').at(-1), '0', `${w.alert}: ${w.metric}{${wanted.join(',')}} exported at 0 from the start`);
    }
  }
});
