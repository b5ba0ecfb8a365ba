import t from 'tap';
import { MarkWriter, type PendingMark } from '../src/mark-writer.js';

/** A mark whose write ends when the test says so; what happened to it is recorded in `log`. */
function marks() {
  const log: string[] = [];
  const ends = new Map<string, () => void>();
  const mark = (name: string): PendingMark => ({
    write: () =>
      new Promise<void>((resolve) => {
        log.push(`start ${name}`);
        ends.set(name, () => {
          log.push(`end ${name}`);
          resolve();
        });
      }),
    dropped: (why) => log.push(`dropped ${name} (${why})`),
  });
  const end = async (name: string) => {
    ends.get(name)!();
    await new Promise((r) => setImmediate(r));
  };
  return { log, mark, end };
}

t.test('marks start in the order they came, at most `writers` at a time', async (t) => {
  const { log, mark, end } = marks();
  const writer = new MarkWriter({ maxPending: 10, writers: 2 });
  for (const name of ['a', 'b', 'c', 'd']) writer.add(name, mark(name));
  t.same(log, ['start a', 'start b']);
  await end('b');
  t.same(log.slice(2), ['end b', 'start c']);
  await end('a');
  t.same(log.slice(4), ['end a', 'start d']);
  t.equal(writer.size, 2);
});

t.test("a reply's newer mark replaces its mark still waiting, and waits for the one being written", async (t) => {
  const { log, mark, end } = marks();
  const writer = new MarkWriter({ maxPending: 10, writers: 2 });
  writer.add('r1', mark('r1 queued'));
  writer.add('r1', mark('r1 delivered'));
  writer.add('r1', mark('r1 not delivered'));
  writer.add('r2', mark('r2 delivered'));
  t.same(log, ['start r1 queued', 'dropped r1 delivered (superseded)', 'start r2 delivered'], 'never two of a reply at once');
  await end('r1 queued');
  t.same(log.slice(3), ['end r1 queued', 'start r1 not delivered'], 'the last state decided is the last written');
});

t.test('over `maxPending` waiting, a new mark is dropped and the reply goes on', async (t) => {
  const { log, mark } = marks();
  const writer = new MarkWriter({ maxPending: 2, writers: 1 });
  t.equal(writer.add('a', mark('a')), true);
  t.equal(writer.add('b', mark('b')), true);
  t.equal(writer.add('c', mark('c')), true);
  t.equal(writer.add('d', mark('d')), false);
  t.same(log, ['start a', 'dropped d (full)']);
  t.equal(writer.add('b', mark('b again')), true, "a reply's newer mark takes its older one's place, even when full");
});

t.test('closing writes what waits within the drain time, then drops the rest and takes no more', async (t) => {
  const { log, mark, end } = marks();
  const writer = new MarkWriter({ maxPending: 10, writers: 1 });
  writer.add('a', mark('a'));
  writer.add('b', mark('b'));
  const closed = writer.close(200);
  await end('a');
  t.same(log.slice(1), ['end a', 'start b']);
  const started = Date.now();
  writer.add('c', mark('c'));
  await closed;
  t.ok(Date.now() - started >= 150, 'waited for b');
  t.same(log.slice(3), ['dropped c (closed)']);

  const idle = new MarkWriter({ maxPending: 10, writers: 1 });
  const at = Date.now();
  await idle.close(5000);
  t.ok(Date.now() - at < 1000, 'nothing waiting: closed at once');
});

t.test('closing resolves as soon as the last mark is written', async (t) => {
  const { mark, end } = marks();
  const writer = new MarkWriter({ maxPending: 10, writers: 4 });
  writer.add('a', mark('a'));
  const at = Date.now();
  const closed = writer.close(5000);
  await end('a');
  await closed;
  t.ok(Date.now() - at < 1000);
});
