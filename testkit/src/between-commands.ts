import { Redis, type RedisOptions } from 'ioredis';

/**
 * A connection on which `meanwhile` runs once, right after the first command that names `key`
 * (other than the SET that takes a lock) has its answer and before the caller sees it: another
 * instance acting in the gap between two of this connection's commands, which no timing can aim
 * at. A check and an action made in one script leave no such gap.
 */
export function betweenCommands(url: string, key: string, meanwhile: () => Promise<unknown>, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, options);
  const send = redis.sendCommand.bind(redis);
  let armed = true;
  redis.sendCommand = (command, stream) => {
    const answer = send(command, stream);
    if (!armed || command.name === 'set' || !command.args.some((arg) => String(arg) === key)) return answer;
    armed = false;
    return (answer as Promise<unknown>).then(async (value) => {
      await meanwhile();
      return value;
    });
  };
  return redis;
}
