/** Redis keys of the relay's own state, under the same (hash-tagged) prefix as the queues. */
export function stateKeys(prefix: string) {
  return {
    customer: (openid: string) => `${prefix}:customer:${openid}`,
    openidOf: `${prefix}:openid-of`,
    agentLoad: `${prefix}:agent-load`,
    line: (openid: string) => `${prefix}:line:${openid}`,
    lineSeq: `${prefix}:line-seq`,
    /** When the job first tried to relay (ms): after IM's duplicate window, resends look first. */
    firstAttempt: (jobId: string) => `${prefix}:first-attempt:${jobId}`,
    imRate: (scope: string, second: number) => `${prefix}:im-rate:${scope}:${second}`,
  };
}

export type StateKeys = ReturnType<typeof stateKeys>;
