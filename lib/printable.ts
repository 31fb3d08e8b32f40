/**
 * Text that may be printed on one line of a plan, a summary or a log as it is. Control
 * characters (C0, DEL, C1), line and paragraph separators, and format characters (the
 * text-direction controls, U+061C included, and the invisible ones: zero-width spaces and
 * joiners, U+2060, U+FEFF, soft hyphens) in a name, a path or a command could forge lines a
 * reviewer reads ("no access changes"), reorder them on screen, or make one name print as
 * another; whoever writes a server file or a stack file could put them there.
 */
export const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export function printable(text: string): boolean {
  return !UNPRINTABLE.test(text);
}

/** Each such character as \uXXXX (\u{XXXXX} beyond U+FFFF): safe on one line anywhere. */
export function escapeUnprintable(text: string): string {
  return text.replace(new RegExp(UNPRINTABLE.source, "gu"), (c) => {
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** The text quoted, escaped as above. */
export function quoteUnprintable(text: string): string {
  return `"${escapeUnprintable(text)}"`;
}

/** A config value in a plan line: as JSON, with what JSON leaves as it is escaped too. */
export function quoted(value: string | number): string {
  return escapeUnprintable(JSON.stringify(value));
}

export const UNPRINTABLE_RULE = "holds a control or text-direction character";
