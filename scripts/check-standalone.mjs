// The repository stands alone: no file in it cites a document outside it (the team's own notes
// live beside the repository, not in it). Platform facts the code relies on are in docs/.
// Exits 1 naming every file and line that does.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const self = 'scripts/check-standalone.mjs';
// Written in pieces so that this file does not match itself.
const outside = new RegExp(['\\.\\./' + 'shared', 'protocols' + '\\.md', 'design' + '\\.md', 'style' + '\\.md', 'DEVELOPERS' + '\\.md', 'design ' + 'card'].join('|'), 'i');
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
const problems = [];
for (const path of tracked) {
  if (path === self || path === 'package-lock.json') continue;
  let text;
  try {
    text = readFileSync(`${root}${path}`, 'utf8');
  } catch {
    continue;
  }
  text.split('\n').forEach((line, i) => {
    if (outside.test(line)) problems.push(`${path}:${i + 1}: cites a document outside the repository: ${line.trim().slice(0, 120)}`);
  });
}
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`standalone: no file cites a document outside the repository (${tracked.length} files)\n`);
