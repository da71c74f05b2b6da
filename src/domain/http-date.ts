/**
 * HTTP-date parsing (RFC 9110, section 5.6.7): the preferred IMF-fixdate and the two obsolete
 * forms recipients must still accept. All three are GMT; `Date.parse` would read the asctime form
 * as local time and accepts much that is not an HTTP-date at all, so the forms are checked first.
 */

const imfFixdate =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const rfc850 =
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const asctime =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ( \d|\d{2}) (\d{2}:\d{2}:\d{2}) (\d{4})$/;

/** Milliseconds since the epoch, or null when `text` is not an HTTP-date. */
export function parseHttpDate(text: string): number | null {
  const value = text.trim();
  let ms = Number.NaN;
  if (imfFixdate.test(value) || rfc850.test(value)) ms = Date.parse(value);
  const parts = asctime.exec(value);
  if (parts)
    ms = Date.parse(`${parts[1]}, ${parts[3]?.trim().padStart(2, '0')} ${parts[2]} ${parts[5]} ${parts[4]} GMT`);
  return Number.isNaN(ms) ? null : ms;
}
