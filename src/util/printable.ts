/**
 * Bounded, visible quoting of input for error messages. A message quotes what it was given so the
 * operator can find it; it must not echo 20 MB back, and it must not let the input draw on the
 * terminal (escape sequences) or reorder the text around it (bidirectional controls such as U+202E).
 */

/**
 * Characters that are invisible or that change how surrounding text is displayed: controls (C0,
 * DEL, C1), format characters (bidi controls, zero-width joiners, U+FEFF), lone surrogates,
 * private-use and unassigned code points, line/paragraph separators, and every space but U+0020.
 */
export const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, 'gu');

/** How many characters of a value a message quotes before cutting it short. */
export const QUOTE_CHARS = 80;

/** `U+202E (a bidirectional-text control)`: what the character is, since it cannot be seen. */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  const kind = /\p{Bidi_Control}/u.test(ch)
    ? 'a bidirectional-text control'
    : /\p{Cc}/u.test(ch)
      ? 'a control character'
      : /\p{Cf}/u.test(ch)
        ? 'an invisible formatting character'
        : /[\p{Zl}\p{Zp}]/u.test(ch)
          ? 'a line separator'
          : /\p{Zs}/u.test(ch)
            ? 'a space other than " "'
            : /\p{Cs}/u.test(ch)
              ? 'half of a surrogate pair'
              : 'a private-use or unassigned code point';
  return `${code} (${kind})`;
}

/** The first invisible character in `s`, described, or undefined. */
export function invisibleIn(s: string): string | undefined {
  const m = INVISIBLE.exec(s);
  return m ? describeChar(m[0]) : undefined;
}

function escapeInvisible(s: string): string {
  return s.replace(INVISIBLE_ALL, (ch) => {
    const cp = ch.codePointAt(0) ?? 0;
    return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}

/** The first `max` characters of `s`, never ending inside a surrogate pair. */
function head(s: string, max: number): string {
  let cut = Math.min(max, s.length);
  const last = s.charCodeAt(cut - 1);
  if (cut < s.length && last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return s.slice(0, cut);
}

function sizeNote(s: string): string {
  return `…(${Buffer.byteLength(s, 'utf8')} bytes)`;
}

/**
 * A value as a message quotes it: JSON string syntax (so `"`, `\` and controls are escaped), every
 * invisible character shown as `\uXXXX`, and at most QUOTE_CHARS characters, followed by
 * `…(N bytes)` when it was cut.
 */
export function quote(value: string, max = QUOTE_CHARS): string {
  const cut = value.length > max;
  const quoted = escapeInvisible(JSON.stringify(cut ? head(value, max) : value));
  return cut ? `${quoted}${sizeNote(value)}` : quoted;
}

/** Free text (a key path, a message) made safe to print: invisibles escaped, cut at `max` characters. */
export function printable(text: string, max: number): string {
  const cut = text.length > max;
  const shown = escapeInvisible(cut ? head(text, max) : text);
  return cut ? `${shown}${sizeNote(text)}` : shown;
}
