import { createImWorkerMetrics } from '@wxim/im-worker';
import { createPusherMetrics } from '@wxim/wechat-pusher';
import t from 'tap';

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
