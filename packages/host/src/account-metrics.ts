/**
 * Several accounts' metrics (Prometheus text, one registry each) as one exposition: each metric
 * once, its samples from every account with an `account` label. Node's process metrics (only one
 * account's registry has them) are the process's, and keep no label.
 */
export function mergeAccountMetrics(parts: readonly { account: string; text: string }[]): string {
  const blocks = new Map<string, { head: string[]; samples: string[] }>();
  for (const { account, text } of parts) {
    let block: { head: string[]; samples: string[] } | undefined;
    let labelled = true;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta !== null) {
        const name = meta[2]!;
        labelled = !/^(process|nodejs)_/.test(name);
        block = blocks.get(name);
        if (block === undefined) blocks.set(name, (block = { head: [], samples: [] }));
        if (block.head.length < 2 && !block.head.some((h) => h.startsWith(`# ${meta[1]} `))) block.head.push(line);
        continue;
      }
      if (line.startsWith('#') || block === undefined) continue;
      block.samples.push(labelled ? withAccount(line, account) : line);
    }
  }
  return [...blocks.values()].map((b) => [...b.head, ...b.samples].join('\n')).join('\n') + '\n';
}

/** `name{a="1"} 2` → `name{account="x",a="1"} 2`; `name 2` → `name{account="x"} 2`. */
function withAccount(sample: string, account: string): string {
  const label = `account="${account}"`;
  const brace = sample.indexOf('{');
  const space = sample.indexOf(' ');
  if (brace >= 0 && (space < 0 || brace < space)) {
    const empty = sample[brace + 1] === '}';
    return `${sample.slice(0, brace + 1)}${label}${empty ? '' : ','}${sample.slice(brace + 1)}`;
  }
  return `${sample.slice(0, space)}{${label}}${sample.slice(space)}`;
}
