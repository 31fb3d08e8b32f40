/**
 * Text that may be printed on one line of a plan, a summary or a log as it is. Control
 * characters (C0, DEL, C1), line and paragraph separators and text-direction controls in a
 * name or a path could forge lines a reviewer reads ("no access changes") or reorder them on
 * screen; whoever writes a server file or a stack file could put them there.
 */
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

export function printable(text: string): boolean {
  return !UNPRINTABLE.test(text);
}

/** Each such character as \uXXXX: safe on one line anywhere. */
export function escapeUnprintable(text: string): string {
  return text.replace(new RegExp(UNPRINTABLE.source, "g"), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The text quoted, escaped as above. */
export function quoteUnprintable(text: string): string {
  return `"${escapeUnprintable(text)}"`;
}

export const UNPRINTABLE_RULE = "holds a control or text-direction character";
