import { once } from 'node:events';
import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ImClient, ImTransientError, type RoamMessage, UserSigCache } from '@wxim/im';
import t, { type Test } from 'tap';

const KEY = 'testsecretkey000000000000000000000000000000000000000000000000000';

const message = (n: number): RoamMessage => ({
  From_Account: 'agent',
  To_Account: 'customer',
  MsgSeq: n,
  MsgRandom: n,
  MsgTimeStamp: 1_800_000_000 - n,
  MsgKey: `key_${n}`,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m${n}` } }],
});

/** An IM whose history answers are `answer(request, its number)`; the client reading it, and the requests' bodies. */
async function historyOf(t: Test, answer: (body: Record<string, unknown>, n: number) => object) {
  const asked: Record<string, unknown>[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      asked.push(body);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '', ...answer(body, asked.length) }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new ImClient({ sdkAppId: 1400000042, admin: 'administrator', userSig: new UserSigCache(1400000042, KEY, 'administrator'), apiBase });
  const read = async () => {
    const got: string[] = [];
    for await (const page of client.history('customer', 'agent', 1_700_000_000, 1_800_000_000)) got.push(...page.map((m) => m.MsgKey));
    return got;
  };
  return { asked, read };
}

t.test('the history is read page by page, each from where the last ended, until IM says it is complete', async (t) => {
  const { asked, read } = await historyOf(t, (_body, n) =>
    n === 1
      ? { Complete: 0, MsgList: [message(1), message(2)], LastMsgKey: 'key_2', LastMsgTime: 1_799_999_998 }
      : // A page that happens to hold nothing shown is no end: the next goes on from its place.
        n === 2
        ? { Complete: 0, MsgList: [], LastMsgKey: 'key_2b', LastMsgTime: 1_799_999_997 }
        : { Complete: 1, MsgList: [message(3)], LastMsgKey: 'key_3', LastMsgTime: 1_799_999_997 },
  );
  t.same(await read(), ['key_1', 'key_2', 'key_3']);
  t.same(
    asked.map((b) => [b['LastMsgKey'], b['MaxTime']]),
    [
      [undefined, 1_800_000_000],
      ['key_2', 1_799_999_998],
      ['key_2b', 1_799_999_997],
    ],
  );
});

t.test('a history IM says is incomplete but gives no new place to go on from fails, rather than being taken as complete', async (t) => {
  const noKey = await historyOf(t, () => ({ Complete: 0, MsgList: [message(1)], LastMsgKey: '' }));
  await t.rejects(noKey.read(), ImTransientError, 'no LastMsgKey');
  const sameKey = await historyOf(t, () => ({ Complete: 0, MsgList: [], LastMsgKey: 'key_1', LastMsgTime: 1_799_999_999 }));
  await t.rejects(sameKey.read(), ImTransientError, 'the same LastMsgKey again');
  t.equal(sameKey.asked.length, 2, 'asked twice, not forever');
  const emptyEnd = await historyOf(t, () => ({ Complete: 0, MsgList: [], LastMsgKey: '' }));
  t.same(await emptyEnd.read(), [], 'an empty page with nowhere to go on from: nothing more to read');
});

t.test('a history that runs on past 1,000 pages fails, rather than being taken as complete', async (t) => {
  const endless = await historyOf(t, (_body, n) => ({ Complete: 0, MsgList: [message(n)], LastMsgKey: `key_${n}`, LastMsgTime: 1_800_000_000 - n }));
  await t.rejects(endless.read(), { name: 'ImTransientError', message: /past 1000 pages/ });
  t.equal(endless.asked.length, 1000);
});
