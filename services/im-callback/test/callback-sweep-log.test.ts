import { CallbackSweep } from '@wxim/im-callback';
import { eventually } from '@wxim/testkit';
import t from 'tap';

// A sweep's own failure is logged where it stopped; one before it (its lock, its state in Redis)
// must be logged too, or sweeps that never run show only as a lag growing.
t.test('a failure looking whether a sweep is due (the lock, Redis) is logged, not dropped', async (t) => {
  const warned: { reason?: string; message: string }[] = [];
  const log = { info: () => undefined, warn: (o: { reason?: string }, message: string) => void warned.push({ ...o, message }) };
  const sweep = new CallbackSweep({
    lock: {
      take: async () => {
        throw new Error('Connection is closed.');
      },
    },
    periodMs: 1000,
    log,
    onSweep: () => undefined,
  } as unknown as ConstructorParameters<typeof CallbackSweep>[0]);
  sweep.start();
  t.teardown(() => sweep.stop());
  await eventually('the failure is logged', () => warned.length > 0, 5000);
  t.match(warned[0], { reason: 'Connection is closed.', message: /could not look whether a sweep is due/ });
});
