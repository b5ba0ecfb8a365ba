import { XMLParser } from 'fast-xml-parser';

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

const CDATA = '__cdata';

// Entities stay off: nothing declared in the document is ever expanded (we also refuse any DTD).
// Values stay strings: MsgId is a 64-bit integer that a JS number would round.
const parser = new XMLParser({
  ignoreAttributes: true,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  trimValues: false,
  cdataPropName: CDATA,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** XML's Char production: what a character reference may name. */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

/** Decodes the five predefined XML entities and character references of text outside CDATA. */
function decodeText(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|apos|quot);/g, (_, ref: string) => {
    if (!ref.startsWith('#')) return PREDEFINED[ref] ?? '';
    const code = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (!isXmlChar(code)) throw new XmlError(`character reference &${ref}; names no XML character`);
    return String.fromCodePoint(code);
  });
}

/** A field's text; undefined for a field that holds elements; null for a repeated field. */
function valueOf(node: unknown): string | undefined | null {
  if (typeof node === 'string') return decodeText(node);
  if (Array.isArray(node)) return null;
  if (node === null || typeof node !== 'object') return undefined;
  const obj = node as Record<string, unknown>;
  // A value may mix CDATA sections and text; WeChat sends one CDATA section per field.
  const cdata = obj[CDATA];
  const parts = Array.isArray(cdata) ? cdata : cdata === undefined ? [] : [cdata];
  const text = typeof obj['#text'] === 'string' ? decodeText(obj['#text']) : '';
  if (parts.length === 0 && Object.keys(obj).length > 0 && !('#text' in obj)) return undefined;
  return parts.map(String).join('') + text;
}

/**
 * Parses a flat `<xml>…</xml>` document (a push, an envelope or a reply) into its fields.
 * Refuses DTDs and entity declarations outright, anything that is not one <xml> element, and a
 * field given twice. A field that holds elements of its own (the reports of a mass send or a
 * publication carry such) is left out: no push the relay reads needs one.
 */
export function parseFlatXml(text: string): Record<string, string> {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new XmlError('DOCTYPE and ENTITY declarations are not accepted');
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch (err) {
    throw new XmlError(`malformed XML: ${(err as Error).message.split('\n')[0]}`);
  }
  const root = (doc as Record<string, unknown>)['xml'];
  if (root === undefined || root === null || typeof root !== 'object' || Array.isArray(root)) throw new XmlError('expected one <xml> root element');
  const fields: Record<string, string> = {};
  for (const [name, node] of Object.entries(root as Record<string, unknown>)) {
    if (name === '#text' || name === CDATA) continue;
    const value = valueOf(node);
    if (value === null) throw new XmlError(`field ${name} is given more than once`);
    if (value !== undefined) fields[name] = value;
  }
  return fields;
}

/** Wraps text in CDATA; "]]>" inside is split across two sections. */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}
