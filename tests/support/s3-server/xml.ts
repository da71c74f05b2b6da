/**
 * The little XML S3 needs: building answers from nested plain values, and reading the two request
 * bodies clients send (DeleteObjects, CompleteMultipartUpload), which are flat lists of small
 * elements. Hand-written because the repository has no XML library of its own (fast-xml-parser is
 * only a transitive dependency of the AWS SDK), and these shapes need a dozen lines, not a parser.
 */

const namespace = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A value of an element: text, a nested element map, or a list repeating the element. */
export type XmlValue = string | number | boolean | Date | undefined | XmlElements | XmlValue[];
export interface XmlElements {
  [name: string]: XmlValue;
}

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

function renderValue(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((item) => renderValue(name, item)).join('');
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === 'object') return `<${name}>${renderElements(value)}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

function renderElements(elements: XmlElements): string {
  return Object.entries(elements)
    .map(([name, value]) => renderValue(name, value))
    .join('');
}

/** A whole document: `<root xmlns="...">...</root>` with the XML declaration. */
export function xmlDocument(root: string, elements: XmlElements, withNamespace = true): string {
  const attribute = withNamespace ? ` xmlns="${namespace}"` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${attribute}>${renderElements(elements)}</${root}>`;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[entity]!;
  });
}

/**
 * The text of every `<name>...</name>` child block inside `xml`, in order; each block's own child
 * elements (text only) become a map. Returns null when the document does not have `root` as its
 * root element, so callers answer MalformedXML.
 */
export function readFlatList(
  xml: string,
  root: string,
  item: string,
): { items: Record<string, string>[]; rootFields: Record<string, string> } | null {
  const body = xml.replace(/^\s*<\?xml[^>]*\?>/, '').trim();
  const rootMatch = new RegExp(`^<${root}(\\s[^>]*)?>([\\s\\S]*)</${root}>$`).exec(body);
  if (!rootMatch) return null;
  const inner = rootMatch[2] ?? '';
  const items: Record<string, string>[] = [];
  const itemPattern = new RegExp(`<${item}(?:\\s[^>]*)?>([\\s\\S]*?)</${item}>`, 'g');
  for (const match of inner.matchAll(itemPattern)) items.push(readFields(match[1] ?? ''));
  const rootFields = readFields(inner.replace(itemPattern, ''));
  return { items, rootFields };
}

function readFields(xml: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of xml.matchAll(/<([A-Za-z0-9]+)(?:\s[^>]*)?>([^<]*)<\/\1>/g))
    fields[match[1]!] = decodeEntities(match[2] ?? '');
  for (const match of xml.matchAll(/<([A-Za-z0-9]+)(?:\s[^>]*)?\/>/g)) fields[match[1]!] = '';
  return fields;
}
