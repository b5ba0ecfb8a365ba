import { stateKeys } from '@wxim/relay';
import t from 'tap';

// The names are what a running fleet holds in Redis: a release that renamed one would lose what
// the release before left there (a token, a line, a pace) on a rolling update.
t.test('every key of the relay keeps its name', async (t) => {
  const keys = stateKeys('{wxim}');
  t.same(
    {
      customer: keys.customer('o1'),
      openidOf: keys.openidOf,
      agentLoad: keys.agentLoad,
      jobs: keys.jobs('agent-replies'),
      line: keys.line('agent-replies', 'o1'),
      legacyLine: [keys.legacyLine('wechat-inbound', 'o1'), keys.legacyLine('agent-replies', 'o1')],
      lineSeq: keys.lineSeq,
      replyProgress: keys.replyProgress('r_1'),
      agentState: keys.agentState,
      callbackHeartbeat: keys.callbackHeartbeat,
      callbackInstances: keys.callbackInstances,
      callbackGaps: keys.callbackGaps,
      recentCustomers: keys.recentCustomers,
      repliedCustomers: keys.repliedCustomers,
      callbackSweep: keys.callbackSweep,
      callbackOwed: keys.callbackOwed,
      historyLock: keys.historyLock,
      replyConfirmations: keys.replyConfirmations('o1'),
      relayIds: keys.relayIds('j1'),
      earlierFirstAttempt: keys.earlierFirstAttempt('j1'),
      pace: keys.pace({ platform: 'im', command: 'openim/sendmsg' }),
      paceWindow: keys.paceWindow({ platform: 'im', command: 'openim/sendmsg' }),
      replicaMark: keys.replicaMark,
      replyWindow: keys.replyWindow('o1'),
      accessToken: keys.accessToken,
    },
    {
      customer: '{wxim}:customer:o1',
      openidOf: '{wxim}:openid-of',
      agentLoad: '{wxim}:agent-load',
      jobs: '{wxim}:agent-replies:',
      line: '{wxim}:line:agent-replies:o1',
      legacyLine: ['{wxim}:line:o1', undefined],
      lineSeq: '{wxim}:line-seq',
      replyProgress: '{wxim}:reply-progress:r_1',
      agentState: '{wxim}:agent-state',
      callbackHeartbeat: '{wxim}:im-callback:heartbeat',
      callbackInstances: '{wxim}:im-callback:instances',
      callbackGaps: '{wxim}:im-callback:gaps',
      recentCustomers: '{wxim}:recent-customers',
      repliedCustomers: '{wxim}:replied-customers',
      callbackSweep: '{wxim}:im-callback:sweep',
      callbackOwed: '{wxim}:im-callback:owed',
      historyLock: '{wxim}:im-callback:history-lock',
      replyConfirmations: '{wxim}:reply-confirmations:o1',
      relayIds: '{wxim}:relay-ids:j1',
      earlierFirstAttempt: '{wxim}:first-attempt:j1',
      pace: '{wxim}:pace:im:openim/sendmsg',
      paceWindow: '{wxim}:pace-window:im:openim/sendmsg',
      replicaMark: '{wxim}:replica-mark',
      replyWindow: '{wxim}:reply-window:o1',
      accessToken: {
        token: '{wxim}:wechat:access-token',
        lock: '{wxim}:wechat:access-token:lock',
        failed: '{wxim}:wechat:access-token:failed',
        forced: '{wxim}:wechat:access-token:forced',
      },
    },
  );
  t.equal(Object.keys(keys).length, 25, 'a key added here is added to this list too');
});
