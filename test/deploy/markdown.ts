/**
 * What the documentation tests need to know of Markdown as GitHub renders it: the anchors its
 * headings get and the links a page makes. Code is left out of both: a `#` comment in a shell
 * block is no heading, and `[x](y)` inside backticks is no link.
 */

/** The text with fenced code blocks removed. */
const withoutFences = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchor of each heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`, repeats numbered. */
export function githubAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = m[1]!
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

export interface MarkdownLink {
  /** 1-based, for the failure message. */
  line: number;
  target: string;
}

/** Every inline link and image target (`[text](target)`, `![alt](target "title")`), outside code. */
export function markdownLinks(markdown: string): MarkdownLink[] {
  // Blank out code rather than cut it, so that line numbers stay true.
  const blank = (code: string) => code.replace(/[^\n]/g, ' ');
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, blank).replace(/`[^`\n]*`/g, blank);
  const links: MarkdownLink[] = [];
  prose.split('\n').forEach((text, i) => {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line: i + 1, target: m[1]! });
  });
  return links;
}
