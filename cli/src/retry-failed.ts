import { type Config, ConfigError, accountsOf, loadConfig, startOrExit } from '@wxim/config';
import { QUEUES, type QueueName, accountPrefix, connectionSettings, createRedis, retryFailedJobs } from '@wxim/queue';
import { lineOnRetry, stateKeys } from '@wxim/state';
import { Queue } from 'bullmq';

/** How long the tool waits for Redis before it says it cannot reach it. */
const CONNECT_MS = 5000;

const QUEUE_NAMES: readonly string[] = Object.values(QUEUES);

/**
 * `npm run retry-failed [-- [--account <id>] [--queue agent-replies] <job id> …]`: retries the
 * failed jobs of `wechat-inbound` (customers' messages; `--queue agent-replies`: agents' replies),
 * all of them or the jobs named, attempts reset, against REDIS_URL and QUEUE_PREFIX: with
 * ACCOUNTS_FILE, every account's (or the account named; job ids need it when there are several, as
 * each account's queue numbers its own jobs). Run it once the cause of the failures is mended: a
 * message is relayed once, with the ids it was first sent with; a reply keeps its progress, so no
 * part WeChat confirmed goes twice. Each job not retried is named on stderr with why (gone, not
 * failed, Redis refusing), and then the tool exits 1; Redis out of reach: one line, exit 78.
 */
await startOrExit('retry-failed', async () => {
  const config = loadConfig();
  const { account, queueName, ids } = parseArgs(process.argv.slice(2));
  const accounts = chosen(accountsOf(config), account, ids);
  const connection = createRedis(connectionSettings(config, 'retry-failed'), 'state');
  connection.on('error', () => {}); // said once below, not at every reconnection
  let skipped = 0;
  try {
    const refused = await connected(connection);
    if (refused !== undefined) throw new ConfigError(...unreachable(config, refused));
    for (const a of accounts) {
      const prefix = accountPrefix(config.queuePrefix, config.redisCluster, a.account);
      const queue = new Queue(queueName, { connection, prefix });
      queue.on('error', () => {});
      try {
        const outcome = await retryFailedJobs(queue, ids.length > 0 ? ids : undefined, lineOnRetry(connection, stateKeys(prefix), queueName));
        const of = accounts.length > 1 || config.accounts.length > 0 ? ` (account ${a.account})` : '';
        process.stdout.write(`retried ${outcome.retried} failed job${outcome.retried === 1 ? '' : 's'} of ${queueName}${of}\n`);
        for (const { id, why } of outcome.skipped) process.stderr.write(`not retried: ${id}${of}: ${why}\n`);
        skipped += outcome.skipped.length;
      } finally {
        await queue.close();
      }
    }
  } finally {
    connection.disconnect();
  }
  if (skipped > 0) process.exitCode = 1;
});

/** Resolves once the connection is ready (undefined), or after CONNECT_MS with the last error it met ('' for none). */
function connected(connection: ReturnType<typeof createRedis>): Promise<string | undefined> {
  if (connection.status === 'ready') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let last = '';
    const failed = (err: Error) => (last = err.message);
    const done = (answer: string | undefined) => {
      clearTimeout(timer);
      connection.off('error', failed);
      connection.off('ready', ready);
      resolve(answer);
    };
    const ready = () => done(undefined);
    const timer = setTimeout(() => done(last), CONNECT_MS);
    connection.on('error', failed);
    connection.once('ready', ready);
  });
}

/** The configuration error for a Redis the tool cannot use: where it looked and what it met, never its password. */
function unreachable(config: Config, error: string): [string, string, string] {
  const where = config.redisSentinel?.sentinels.map((s) => `${s.host}:${s.port}`).join(', ') ?? new URL(config.redisUrl).host;
  if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(error))
    return ['REDIS_URL', `is refused by Redis at ${where} (${error.split('\n')[0]})`, "the user and password of the relay's Redis"];
  const variable = config.redisSentinel === undefined ? 'REDIS_URL' : 'REDIS_SENTINELS';
  return [
    variable,
    `reaches no Redis within ${CONNECT_MS / 1000} s (${where})`,
    "the relay's Redis, reachable from here (run the tool in a relay pod, or port-forward)",
  ];
}

function parseArgs(args: readonly string[]): { account?: string; queueName: QueueName; ids: string[] } {
  const rest = [...args];
  /** The value after `--<name>`, taken out of `rest`; undefined when the option is not given. */
  const option = (name: string, expected: string): string | undefined => {
    const at = rest.indexOf(`--${name}`);
    if (at === -1) return undefined;
    const value = rest[at + 1];
    if (value === undefined || value.startsWith('--')) throw new ConfigError(`--${name}`, 'has no value', expected);
    rest.splice(at, 2);
    if (rest.includes(`--${name}`)) throw new ConfigError(`--${name}`, 'is given twice', `once, ${expected}`);
    return value;
  };
  const account = option('account', 'an account id of ACCOUNTS_FILE after it');
  const queueName = option('queue', `one of ${QUEUE_NAMES.join(', ')} after it`) ?? QUEUES.wechatInbound;
  if (!QUEUE_NAMES.includes(queueName)) throw new ConfigError('--queue', `names no queue of the relay ("${queueName}")`, `one of ${QUEUE_NAMES.join(', ')}`);
  const unknown = rest.find((a) => a.startsWith('--'));
  if (unknown !== undefined) throw new ConfigError(unknown, 'is no option of retry-failed', '--account <id>, --queue <name>, then job ids');
  return { ...(account === undefined ? {} : { account }), queueName: queueName as QueueName, ids: rest };
}

/** The accounts whose failed jobs to retry: the one named, else every one (job ids need one). */
function chosen(accounts: readonly Config[], account: string | undefined, ids: readonly string[]): readonly Config[] {
  const ours = accounts.map((a) => a.account);
  if (account !== undefined) {
    const named = accounts.filter((a) => a.account === account);
    if (named.length === 0) throw new ConfigError('--account', `names no account here ("${account}")`, `one of ${ours.join(', ')}`);
    return named;
  }
  if (ids.length > 0 && accounts.length > 1) throw new ConfigError('job ids', 'name no account', `--account <id> before them, one of ${ours.join(', ')}`);
  return accounts;
}
