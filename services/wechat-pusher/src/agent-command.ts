/**
 * What an agent types in the IM client to run the desk rather than to write to the customer.
 * A reply whose whole text is one of these is a command, never delivered: `/transfer [agent]`,
 * `/close`, `/r [code]`, `/help`. Any other text is a reply, even one starting with "/" (WeChat's
 * emoji codes such as "/::)" do); "//" at the start sends the text from its second "/" on.
 */
export type AgentCommand =
  | { name: 'transfer'; to?: string }
  | { name: 'close' }
  | { name: 'canned'; code?: string }
  | { name: 'help' }
  /** A command word with what it does not take: the agent is told what was expected. */
  | { name: 'malformed'; command: string; expected: string };

export const COMMAND_HELP = [
  '/transfer <agent>: hand this customer to that agent (/transfer alone: the least busy other agent online)',
  '/close: end this conversation (the customer’s next message starts a new one)',
  '/r <code>: send the canned reply <code> (/r alone lists them)',
  '/help: these commands',
  '//text: send "/text" to the customer as it is',
].join('\n');

const AGENT = /^[A-Za-z0-9_@.-]{1,32}$/;
const CODE = /^[A-Za-z0-9_-]{1,32}$/;

/** The command `text` is, or undefined when it is a reply to deliver (see unescapeReply). */
export function parseCommand(text: string): AgentCommand | undefined {
  const m = /^\/([a-z]+)(?:\s+([\s\S]*))?$/i.exec(text.trim());
  if (m === null) return undefined;
  const word = m[1]!.toLowerCase();
  const args = (m[2] ?? '').trim();
  switch (word) {
    case 'transfer':
      if (args === '') return { name: 'transfer' };
      return AGENT.test(args)
        ? { name: 'transfer', to: args }
        : { name: 'malformed', command: '/transfer', expected: '/transfer <agent UserID>, or /transfer alone' };
    case 'close':
      return args === '' ? { name: 'close' } : { name: 'malformed', command: '/close', expected: '/close alone' };
    case 'r':
      if (args === '') return { name: 'canned' };
      return CODE.test(args)
        ? { name: 'canned', code: args.toLowerCase() }
        : { name: 'malformed', command: '/r', expected: '/r <code> (one word), or /r alone for the list' };
    case 'help':
      return args === '' ? { name: 'help' } : { name: 'malformed', command: '/help', expected: '/help alone' };
    default:
      return undefined;
  }
}

/** A reply's text as the customer gets it: a leading "//" stands for "/". */
export function unescapeReply(text: string): string {
  return text.startsWith('//') ? text.slice(1) : text;
}
