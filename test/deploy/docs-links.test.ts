import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import t from 'tap';
import { githubAnchors, markdownLinks } from './markdown.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** README.md and every document in docs/, as paths from the repository's root. */
const documents = [
  'README.md',
  ...readdirSync(new URL('docs/', root))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Where a relative link of `from` leads, from the repository's root; undefined for a link off the site. */
function resolve(from: string, target: string): { path: string; anchor: string | undefined } | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  const [file = '', anchor] = target.split('#', 2);
  return { path: file === '' ? from : posix.normalize(posix.join(posix.dirname(from), decodeURI(file))), anchor };
}

t.test('every relative link in README.md and docs/ leads to a file, and every #anchor to a heading in it', async (t) => {
  const broken: string[] = [];
  let checked = 0;
  for (const from of documents) {
    for (const { line, target } of markdownLinks(read(from))) {
      const to = resolve(from, target);
      if (to === undefined) continue;
      checked++;
      const where = `${from}:${line}: ${target}`;
      if (to.path.startsWith('..') || !existsSync(new URL(to.path, root))) {
        broken.push(`${where}: no file ${to.path}`);
        continue;
      }
      if (to.anchor === undefined) continue;
      if (!to.path.endsWith('.md') || statSync(new URL(to.path, root)).isDirectory()) broken.push(`${where}: an anchor into what is not a document`);
      else if (!githubAnchors(read(to.path)).has(to.anchor)) broken.push(`${where}: no heading with that anchor in ${to.path}`);
    }
  }
  t.ok(checked > 30, `links were found (${checked})`);
  t.same(broken, [], 'no broken link');
});

t.test("README.md's map names every document in docs/", async (t) => {
  const linked = new Set(
    markdownLinks(read('README.md'))
      .map(({ target }) => resolve('README.md', target)?.path)
      .filter((path) => path !== undefined),
  );
  t.same(
    documents.filter((path) => path !== 'README.md' && !linked.has(path)),
    [],
    'every docs/*.md is linked from README.md',
  );
});

t.test('README.md stays a front door: under 200 lines', async (t) => {
  const lines = read('README.md').split('\n').length;
  t.ok(lines < 200, `README.md has ${lines} lines; what does not fit belongs in docs/`);
});
