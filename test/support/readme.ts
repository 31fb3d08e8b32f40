/** The README's marked shell blocks, which the end-to-end tests run as written. */
import { expect } from "vitest";

/** The shell block that follows the README's `<!-- marker ... -->` comment, one line each. */
export function readmeBlock(readme: string, marker: string): string[] {
  const at = readme.indexOf(`<!-- ${marker}`);
  expect(at, `README block "${marker}"`).toBeGreaterThan(-1);
  const block = /```sh\n([\s\S]*?)\n\s*```/.exec(readme.slice(at))![1];
  return block.split("\n").map((line) => line.trim());
}
