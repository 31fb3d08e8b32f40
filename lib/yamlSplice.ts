/**
 * Writing api_keys entries into a server config's text without re-serialising it: entries as
 * block YAML lines in the file's own indentation, positions of a node's lines in the text, and
 * edits spliced in at those positions, so every byte outside the changed entries (comments,
 * spacing, flow collections) stays as it was. lib/mergeAuthConfig.ts decides what to splice.
 */
import { isMap, type Pair } from "yaml";
import type { ApiKeyEntry } from "./authSection";
import type { ScalarNode } from "./serverConfig";

/** Replace text[start, end) with `text`. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** The text with every edit made (last first, so the earlier positions still hold). */
export function applyEdits(text: string, edits: TextEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  }
  return out;
}

/** Where a pair ends in the text: its value's last character, or its key's when it has no value. */
export function valueEnd(pair: Pair<unknown, unknown>): number {
  const value = pair.value as { range?: [number, number, number] } | null;
  const key = pair.key as ScalarNode;
  const end = value?.range ? value.range[1] : key.range[1];
  return Math.max(key.range[1], end - 1);
}

/** Index of the start of the line that holds `pos`. */
export function lineStart(text: string, pos: number): number {
  return text.lastIndexOf("\n", pos - 1) + 1;
}

/** Index just past the newline ending the line that holds `pos` (or the text's end). */
export function lineEndIncl(text: string, pos: number): number {
  const nl = text.indexOf("\n", pos);
  return nl === -1 ? text.length : nl + 1;
}

export function column(text: string, pos: number): number {
  return pos - lineStart(text, pos);
}

export function ensureNewlineBefore(text: string, pos: number): string {
  return pos > 0 && text[pos - 1] !== "\n" ? "\n" : "";
}

/** YAML 1.1 readers (and some 1.2 ones) take these bare words for booleans or null. */
const AMBIGUOUS = /^(y|yes|n|no|true|false|on|off|null)$/i;

function key(name: string): string {
  return AMBIGUOUS.test(name) ? JSON.stringify(name) : name;
}

/**
 * One entry as block YAML at the given indent. Every value is from a restricted alphabet
 * (validated usernames, role labels, permission names, hex), so quoting is predictable.
 */
export function renderEntries(entries: ReadonlyMap<string, ApiKeyEntry>, names: string[], indent: number, step = 2): string[] {
  const pad = " ".repeat(indent);
  const inner = pad + " ".repeat(step);
  const innermost = inner + " ".repeat(step);
  return names.flatMap((name) => {
    const entry = entries.get(name)!;
    return [
      `${pad}${key(name)}:`,
      `${inner}hash: "${entry.hash}"`,
      `${inner}admin: ${entry.admin}`,
      `${inner}roles: [${entry.roles.map((r) => JSON.stringify(r)).join(", ")}]`,
      `${inner}permissions:`,
      ...Object.entries(entry.permissions).map(([perm, allowed]) => `${innermost}${JSON.stringify(perm)}: ${allowed}`),
    ];
  });
}

/** The file's own indentation step, read from an existing entry's body when it has one. */
export function indentStep(source: string, value: unknown, entryIndent: number): number | undefined {
  if (!isMap(value) || value.flow || value.items.length === 0) return undefined;
  const step = column(source, (value.items[0].key as ScalarNode).range[0]) - entryIndent;
  return step > 0 ? step : undefined;
}
