export interface Pingable {
  ping(): Promise<string>;
}

/** Whether Redis answers PING within `timeoutMs`; never throws, never waits longer. */
export async function redisAnswers(redis: Pingable, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      redis.ping().then((r) => r === 'PONG'),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
