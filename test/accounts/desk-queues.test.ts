import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '@wxim/config';
import { accountKeys, deskPolicy, otherAppDesks } from '@wxim/host';
import { QUEUES, accountPrefix } from '@wxim/queue';
import { ConversationLine, RelayTurn } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { startTestRedis, testPrefix } from '@wxim/testkit';

// Three Official Accounts on one IM app: `one` and `two` list the same agent (ann), `three` its
// own (bo). The desk of each is wired as the im-worker wires it (accountKeys, otherAppDesks,
// deskPolicy): customers of accounts with the same agents queue together for them, in the order
// they began to wait; a customer waiting for other agents holds no one back.
const server = await startTestRedis();
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

const prefix = testPrefix();
const im = (agents: string[]) => ({ sdkAppId: 1400000077, secretKey: 'k'.repeat(64), agents, callbackToken: 'cb-app' });
const file = join(mkdtempSync(join(tmpdir(), 'wxim-desks-')), 'accounts.json');
writeFileSync(
  file,
  JSON.stringify({
    accounts: [
      { id: 'one', wechat: { token: 'tokenone' }, im: im(['ann']) },
      { id: 'two', wechat: { token: 'tokentwo' }, im: im(['ann']) },
      { id: 'three', wechat: { token: 'tokenthree' }, im: im(['bo']) },
    ],
  }),
);
const config = loadConfig({ ACCOUNTS_FILE: file, QUEUE_PREFIX: prefix, AGENT_MAX_OPEN: '1' });
const accountOf = (id: string) => config.accounts.find((a) => a.account === id)!;
const prefixOf = (c: Config) => accountPrefix(c.queuePrefix, c.redisCluster, c.account);

let jobCount = 0;
/** The account's desk, as the im-worker builds it; `begin(openid)` runs a one-job conversation's turn and says who serves it. */
function desk(id: string) {
  const account = accountOf(id);
  const keys = accountKeys(account, prefixOf(account));
  const line = new ConversationLine(redis, keys, QUEUES.wechatInbound, keys.relayIds);
  const others = otherAppDesks(account).map((d) => d.keys);
  const turn = new RelayTurn(redis, keys, QUEUES.wechatInbound, account.im.agents, deskPolicy(account), others);
  return {
    keys,
    async begin(openid: string): Promise<string | undefined> {
      const jobId = `j${++jobCount}`;
      await redis.hset(`${keys.jobs(QUEUES.wechatInbound)}${jobId}`, 'name', 'text');
      await line.append(openid, jobId);
      const begun = await turn.begin(openid, jobId, 'open');
      await redis.hset(`${keys.jobs(QUEUES.wechatInbound)}${jobId}`, 'finishedOn', '1');
      await line.finish(openid, jobId);
      if (begun.turn !== 'head') throw new Error(`not at the head: ${begun.turn}`);
      return begun.customer.agent;
    },
  };
}

t.test('the accounts of an IM app that list the same agents queue together; one with other agents keeps its own queue', async (t) => {
  t.same(
    config.accounts.map((a) => [a.imAppAccounts, a.imDeskAccounts]),
    [
      [
        ['one', 'two', 'three'],
        ['one', 'two'],
      ],
      [
        ['one', 'two', 'three'],
        ['one', 'two'],
      ],
      [['one', 'two', 'three'], ['three']],
    ],
  );
  t.same(
    otherAppDesks(accountOf('three')).map((d) => d.prefix),
    [],
    "no other account's customers can take bo",
  );
  const [one, two, three] = [desk('one'), desk('two'), desk('three')];
  // bo has logged out for the night: account three's customer waits for him.
  await redis.hset(three.keys.agentState, 'bo', JSON.stringify({ action: 'Logout' }));
  t.equal(await three.begin('t1'), undefined, "account three's customer waits for bo");
  t.equal(await one.begin('c1'), 'ann', "account one's newcomer reaches ann at once: the customer waiting for bo could never take her");
  t.equal(await two.begin('d1'), undefined, "ann is full (AGENT_MAX_OPEN 1): account two's customer waits");
  // c1's conversation has gone idle past CLOSE_AFTER_IDLE: ann's place is free again.
  await redis.zadd(one.keys.deskActive, String(Date.now() - 49 * 3_600_000), 'c1');
  t.equal(await one.begin('c2'), undefined, "account one's next newcomer waits behind account two's customer, who waited longer for ann");
  t.equal(await two.begin('d1'), 'ann', "account two's customer takes ann's place when they next look");
  t.same(await redis.zrange(three.keys.deskWaiting, 0, -1), ['t1'], "and account three's customer still waits for bo, held back by no one");
});

t.test("a conversation idle past CLOSE_AFTER_IDLE in one account frees the shared agent's place for another account's customer", async (t) => {
  const [one, two] = [desk('one'), desk('two')];
  // Earlier: ann is free (the test before left her one of two's conversations; closed here).
  for (const d of [one, two])
    for (const openid of await redis.zrange(d.keys.deskActive, 0, -1)) await redis.zadd(d.keys.deskActive, String(Date.now() - 49 * 3_600_000), openid);
  await redis.del(one.keys.deskWaiting, two.keys.deskWaiting);
  t.equal(await two.begin('quiet-brand-customer'), 'ann', "account two's customer takes ann (AGENT_MAX_OPEN 1)");
  // Nobody writes to account two any more (a quiet brand): its conversation goes idle past 48 hours.
  await redis.zadd(two.keys.deskActive, String(Date.now() - 49 * 3_600_000), 'quiet-brand-customer');
  t.equal(await one.begin('busy-brand-customer'), 'ann', "account one's newcomer reaches ann: an idle conversation of another account holds no place");
  t.equal(await redis.hget(two.keys.customer('quiet-brand-customer'), 'counted'), '0', "account two's idle conversation is closed");
  t.equal(Number(await redis.zscore(one.keys.agentLoad, 'ann')), 1, "ann's load counts the one open conversation");
});
