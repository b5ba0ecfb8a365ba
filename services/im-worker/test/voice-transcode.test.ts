import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TranscodeError, VoiceTranscoder } from '../src/voice-transcode.js';

// What went wrong decides what follows: a recording ffmpeg refuses gets the note at once; the
// machine failing ffmpeg (killed, out of time, not started) is tried again on the job's next attempt.
const dir = mkdtempSync(join(tmpdir(), 'wxim-ffmpeg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** An "ffmpeg" running `body` for a conversion (its version check answers). */
function fake(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\ncase "$*" in *-version*) exit 0;; esac\ncat >/dev/null\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

async function failure(transcoder: VoiceTranscoder): Promise<TranscodeError> {
  try {
    await transcoder.toMp3(Buffer.from('#!AMR\n'), 'amr');
  } catch (err) {
    if (err instanceof TranscodeError) return err;
    throw err;
  }
  throw new Error('converted');
}

t.test('a recording ffmpeg refuses is for good; ffmpeg killed or out of time passes', async (t) => {
  const refused = await failure(new VoiceTranscoder({ command: fake('refuses', "echo 'Invalid data found' >&2; exit 1") }));
  t.match(refused, { passing: false, message: /ffmpeg failed \(1\): Invalid data found/ });
  const killed = await failure(new VoiceTranscoder({ command: fake('killed', 'kill -9 $$') }));
  t.match(killed, { passing: true, message: /ffmpeg was killed \(SIGKILL\)/ });
  const slow = await failure(new VoiceTranscoder({ command: fake('slow', 'exec sleep 5'), timeoutMs: 100 }));
  t.match(slow, { passing: true, message: /took longer than 100 ms/ });
  const big = await failure(new VoiceTranscoder({ command: fake('big', 'head -c 5000 /dev/zero'), maxOutputBytes: 1000 }));
  t.match(big, { passing: false, message: /wrote more than 1000 bytes/ });
});

t.test('an ffmpeg that is not there: for good, and said by the version check', async (t) => {
  const missing = new VoiceTranscoder({ command: join(dir, 'not-installed') });
  t.equal(await missing.available(), false);
  t.match(await failure(missing), { passing: false, message: /could not be started: ENOENT/ });
  t.equal(await new VoiceTranscoder({ command: fake('fine', 'exit 0') }).available(), true);
});

t.test('a version check the machine failed is made again at the next ask, and passes as the conversion would', async (t) => {
  const once = join(dir, 'killed-once');
  writeFileSync(once, '');
  const flaky = join(dir, 'flaky');
  writeFileSync(flaky, `#!/bin/sh\n[ -e '${once}' ] && rm -f '${once}' && kill -9 $$\nexit 0\n`);
  chmodSync(flaky, 0o755);
  const transcoder = new VoiceTranscoder({ command: flaky });
  await t.rejects(transcoder.available(), { passing: true, message: /ffmpeg was killed/ }, 'the first check was killed: not known, and passing');
  t.equal(await transcoder.available(), true, 'the next ask checks again');
});
