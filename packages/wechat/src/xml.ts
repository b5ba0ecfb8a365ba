export class XmlError extends Error {
  override readonly name = 'XmlError';
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** `&…;` where it starts: a character reference or an entity's name (an XML name, past ASCII let in as for tags). */
const REFERENCE = /&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_:\u0080-\uffff][\w.:\u0080-\uffff-]*);/y;

/** A name or reference from the document as an error message shows it: a body may hold 64 KB of one. */
function shown(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 40)}…`;
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x9 || c === 0xa || c === 0xd;
/** XML's NameStartChar, with every character past ASCII let in (WeChat's names are ASCII). */
const isNameStart = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a || c >= 0x80;
const isNameChar = (c: number): boolean => isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;

/**
 * Fields whose elements are read too, one level down, as `Field.Element`: what a customer scanned
 * with a scan-code menu item (ScanCodeInfo: ScanType, ScanResult). Every other field that holds
 * elements reads as no text.
 */
const NESTED_FIELDS: ReadonlySet<string> = new Set(['ScanCodeInfo']);

/**
 * A reader of one document, front to back. WeChat's pushes, envelopes and replies are one `<xml>`
 * element whose children are fields holding text (mostly one CDATA section): the reader takes
 * that shape in one pass and checks the rest of the document is well-formed XML without reading
 * more into it. Nothing is expanded but the five predefined entities and character references.
 */
class FlatXmlReader {
  private pos = 0;

  constructor(private readonly s: string) {}

  document(): Record<string, string> {
    const s = this.s;
    if (s.charCodeAt(0) === 0xfeff) this.pos = 1;
    this.misc();
    if (!this.at('<') || !isNameStart(s.charCodeAt(this.pos + 1))) this.fail(this.pos < s.length ? 'text before the root element' : 'no root element');
    const root = this.startTag();
    if (root.name !== 'xml' || root.empty) throw new XmlError('expected one <xml> root element');
    const fields: Record<string, string> = {};
    let count = 0;
    for (;;) {
      this.text(s.indexOf('<', this.pos));
      if (this.at('</')) {
        this.endTag('xml');
        break;
      }
      if (this.at('<![CDATA[')) {
        this.cdataSection(); // text of the root's own, not a field
        continue;
      }
      if (this.markup()) continue;
      const field = this.startTag();
      if (field.name === '__proto__') throw new XmlError('field __proto__ is not accepted');
      count++;
      const inner: Record<string, string> | undefined = NESTED_FIELDS.has(field.name) ? {} : undefined;
      const value = field.empty ? '' : this.fieldValue(field.name, inner);
      // A field given again is read past: its first text stands. Refusing the push would have
      // WeChat retry it and then drop it, and the copies are read once, here, for every use.
      if (value !== undefined && !Object.hasOwn(fields, field.name)) fields[field.name] = value;
      for (const [key, text] of Object.entries(inner ?? {})) if (!Object.hasOwn(fields, key)) fields[key] = text;
    }
    if (count === 0) throw new XmlError('expected one <xml> root element');
    this.misc();
    if (this.pos < s.length) {
      if (this.at('<') && isNameStart(s.charCodeAt(this.pos + 1))) throw new XmlError('expected one <xml> root element');
      this.fail('text after the root element');
    }
    return fields;
  }

  /**
   * A field's text (its text and CDATA sections joined), or undefined if it holds elements. With
   * `inner`, the text of each element directly within it that holds only text goes there too, as
   * `Field.Element` (the first of a name stands).
   */
  private fieldValue(name: string, inner?: Record<string, string>): string | undefined {
    let value = '';
    let holdsElements = false;
    // The elements open within the field, innermost last: their text is not the field's.
    const open: string[] = [];
    // The element directly within the field being read, its text so far, and whether it holds elements.
    let child = { text: '', plain: true };
    const keep = (element: string) => {
      const key = `${name}.${element}`;
      if (inner !== undefined && child.plain && element !== '__proto__' && !Object.hasOwn(inner, key)) inner[key] = child.text;
    };
    for (;;) {
      const text = this.text(this.s.indexOf('<', this.pos));
      const own = open.length === 0;
      if (own) value += text;
      else if (open.length === 1) child.text += text;
      if (this.at('<![CDATA[')) {
        const section = this.cdataSection();
        if (own) value += section;
        else if (open.length === 1) child.text += section;
      } else if (this.at('</')) {
        if (own) {
          this.endTag(name);
          return holdsElements ? undefined : value;
        }
        const closed = open.pop()!;
        this.endTag(closed);
        if (open.length === 0) keep(closed);
      } else if (!this.markup()) {
        const tag = this.startTag();
        holdsElements = true;
        if (open.length === 0) {
          child = { text: '', plain: true };
          if (tag.empty) keep(tag.name);
        } else child.plain = false;
        if (!tag.empty) open.push(tag.name);
      }
    }
  }

  private cdataSection(): string {
    const end = this.s.indexOf(']]>', this.pos + 9);
    if (end < 0) this.fail('unterminated CDATA section');
    const section = lineEnds(this.s.slice(this.pos + 9, end));
    this.pos = end + 3;
    return section;
  }

  /** Text up to `lt` (the next '<'), its references decoded; fails at the end of the document. */
  private text(lt: number): string {
    if (lt < 0) this.fail('unclosed element at the end of the document');
    const raw = lineEnds(this.s.slice(this.pos, lt));
    this.pos = lt;
    return raw.includes('&') ? decodeText(raw) : raw;
  }

  /** Skips a comment or processing instruction at the cursor; false if the markup is an element's tag. */
  private markup(): boolean {
    const s = this.s;
    if (s.startsWith('<!--', this.pos)) {
      const end = s.indexOf('-->', this.pos + 4);
      if (end < 0) this.fail('unterminated comment');
      this.pos = end + 3;
      return true;
    }
    if (s.startsWith('<?', this.pos)) {
      // A processing instruction names its target; `xml` (the declaration) only opens the document.
      const start = this.pos;
      this.pos += 2;
      const target = this.name();
      if (target.toLowerCase() === 'xml') {
        if (start > (s.charCodeAt(0) === 0xfeff ? 1 : 0)) this.fail('an XML declaration that does not open the document');
        this.attributes('<?xml?>', true);
        return true;
      }
      if (!this.at('?>') && !isSpace(s.charCodeAt(this.pos))) this.fail(`malformed processing instruction <?${shown(target)}`);
      const end = s.indexOf('?>', this.pos);
      if (end < 0) this.fail('unterminated processing instruction');
      this.pos = end + 2;
      return true;
    }
    if (s.startsWith('<!', this.pos)) {
      // Declarations (a DTD, entities) are refused wherever they stand: nothing is ever expanded.
      const word = s.slice(this.pos + 2, this.pos + 9).toUpperCase();
      if (word === 'DOCTYPE' || word.startsWith('ENTITY')) throw new XmlError('DOCTYPE and ENTITY declarations are not accepted');
      this.fail("'<!' that starts no comment or CDATA section");
    }
    if (!isNameStart(s.charCodeAt(this.pos + 1))) this.fail("'<' that starts no tag");
    return false;
  }

  /** Whitespace, comments and processing instructions outside the root element (any other `<!` is refused). */
  private misc(): void {
    const s = this.s;
    for (;;) {
      while (isSpace(s.charCodeAt(this.pos))) this.pos++;
      if (!(s.startsWith('<!', this.pos) || s.startsWith('<?', this.pos))) return;
      this.markup();
    }
  }

  /** `<name attr="…" …>` or `<name …/>` at the cursor; attributes are checked and dropped. */
  private startTag(): { name: string; empty: boolean } {
    this.pos++;
    const name = this.name();
    return { name, empty: this.attributes(`<${shown(name)}>`, false) };
  }

  /**
   * The attributes of a tag (or the pseudo-attributes of the XML declaration) up to its end, which
   * is consumed: `>`, `/>` (true: an empty element), or for the declaration `?>`.
   */
  private attributes(tag: string, declaration: boolean): boolean {
    const s = this.s;
    let seen: Set<string> | undefined; // made for the first attribute: most tags have none
    for (;;) {
      const spaced = this.spaces();
      const c = s.charCodeAt(this.pos);
      if (declaration ? this.at('?>') : c === 0x3e) {
        this.pos += declaration ? 2 : 1;
        return false;
      }
      if (!declaration && c === 0x2f && s.charCodeAt(this.pos + 1) === 0x3e) {
        this.pos += 2;
        return true;
      }
      if (!spaced || !isNameStart(c)) this.fail(`malformed tag ${tag}`);
      const attribute = this.name();
      if ((seen ??= new Set()).has(attribute)) this.fail(`attribute ${shown(attribute)} is repeated in ${tag}`);
      seen.add(attribute);
      this.spaces();
      if (s.charCodeAt(this.pos) !== 0x3d) this.fail(`attribute ${shown(attribute)} of ${tag} has no value`);
      this.pos++;
      this.spaces();
      const quote = s[this.pos];
      if (quote !== '"' && quote !== "'") this.fail(`attribute ${shown(attribute)} of ${tag} is not quoted`);
      const end = s.indexOf(quote, this.pos + 1);
      if (end < 0) this.fail(`attribute ${shown(attribute)} of ${tag} is not closed`);
      decodeText(s.slice(this.pos + 1, end));
      this.pos = end + 1;
    }
  }

  /** `</name>` at the cursor, which must close `expected`. */
  private endTag(expected: string): void {
    this.pos += 2;
    const name = this.name();
    this.spaces();
    if (this.s.charCodeAt(this.pos) !== 0x3e) this.fail(`malformed end tag </${shown(name)}>`);
    if (name !== expected) this.fail(`</${shown(name)}> closes <${shown(expected)}>`);
    this.pos++;
  }

  private name(): string {
    const s = this.s;
    const start = this.pos;
    if (!isNameStart(s.charCodeAt(start))) this.fail('a tag or attribute without a valid name');
    let end = start + 1;
    while (end < s.length && isNameChar(s.charCodeAt(end))) end++;
    this.pos = end;
    return s.slice(start, end);
  }

  private spaces(): boolean {
    const start = this.pos;
    while (isSpace(this.s.charCodeAt(this.pos))) this.pos++;
    return this.pos > start;
  }

  private at(prefix: string): boolean {
    return this.s.startsWith(prefix, this.pos);
  }

  private fail(what: string): never {
    throw new XmlError(`malformed XML: ${what} (at character ${this.pos})`);
  }
}

/** XML reads every line end (CR LF, or CR alone) as LF, CDATA included; `&#13;` stays a CR. */
function lineEnds(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

/**
 * Decodes the five predefined XML entities and character references. Any other entity (`&nbsp;`)
 * stays as written rather than the push be refused: WeChat would retry it and then drop it.
 * A bare '&' is refused.
 */
function decodeText(text: string): string {
  let out = '';
  let from = 0;
  for (let amp = text.indexOf('&'); amp >= 0; amp = text.indexOf('&', from)) {
    REFERENCE.lastIndex = amp;
    const m = REFERENCE.exec(text);
    if (m === null) throw new XmlError("malformed XML: '&' that starts no reference");
    const ref = m[1]!;
    let decoded: string;
    if (ref.startsWith('#')) {
      // Any code point is taken, as the same character written out is: a serialiser that escapes
      // an emoji as its two UTF-16 halves (`&#xD83D;&#xDE00;`) gives the emoji back.
      const code = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(code <= 0x10ffff)) throw new XmlError(`character reference &${shown(ref)}; names no character`);
      decoded = String.fromCodePoint(code);
    } else decoded = PREDEFINED[ref] ?? m[0];
    out += text.slice(from, amp) + decoded;
    from = REFERENCE.lastIndex;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Parses a flat `<xml>…</xml>` document (a push, an envelope or a reply) into its fields.
 * Refuses DTDs and entity declarations where they stand (text in a CDATA section is only text: a
 * customer may write `<!DOCTYPE`), and anything that is not well-formed or not one <xml> element
 * holding at least one field. A field's value is its text and CDATA sections joined; a field
 * given again keeps its first text. A field that holds elements of its own (the reports of a mass send
 * or a publication carry such) is left out, whatever text lies around them: no push the relay
 * reads needs one.
 */
export function parseFlatXml(text: string): Record<string, string> {
  return new FlatXmlReader(text).document();
}

/** Wraps text in CDATA; "]]>" inside is split across two sections. */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}
