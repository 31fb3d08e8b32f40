/** What may be printed on one line as it is (lib/printable.ts). */
import { describe, expect, it } from "vitest";
import { escapeUnprintable, printable, quoted } from "../../../lib/printable";

describe("printable", () => {
  it("refuses controls, line and paragraph separators, and every format character: text-direction controls (U+061C too) and invisible ones", () => {
    for (const c of ["\n", "\r", "\u001b", "\u007f", "\u0085", "\u2028", "\u2029", "\u202e", "\u2066", "\u2069", "\u200e", "\u061c"])
      expect(printable(`bob${c}x`), c.codePointAt(0)!.toString(16)).toBe(false);
    // attack41 F6: invisible characters make one name print as another ("alice\u200b" as "alice").
    for (const c of ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u{e0001}"])
      expect(printable(`alice${c}`), c.codePointAt(0)!.toString(16)).toBe(false);
    expect(printable("wss://fetchml.example/ws ~ é ü 日本")).toBe(true);
  });

  it("escapes each such character so it shows, and quotes config values as JSON with them escaped", () => {
    expect(escapeUnprintable("a\u2066b\u{e0001}c\n")).toBe("a\\u2066b\\u{e0001}c\\u000a");
    expect(quoted("true\u2066 ; x\u2069\u2028+ no access changes")).toBe('"true\\u2066 ; x\\u2069\\u2028+ no access changes"');
    expect(quoted('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoted(9100)).toBe("9100");
  });
});
