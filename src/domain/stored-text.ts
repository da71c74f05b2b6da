/**
 * Text that came from outside (a webhook receiver's answer, an S3 error message) and is stored in
 * the database. PostgreSQL's text and jsonb cannot hold U+0000: a receiver answering with one used
 * to make recording the delivery attempt fail, again at every retry.
 */

/** `text` with every U+0000 replaced by U+FFFD (the replacement character), so it can be stored. */
export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}
