/** The README's marked shell blocks, which the end-to-end tests run as written. */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "vitest";

/** The shell block that follows the README's `<!-- marker ... -->` comment, one line each. */
export function readmeBlock(readme: string, marker: string): string[] {
  const at = readme.indexOf(`<!-- ${marker}`);
  expect(at, `README block "${marker}"`).toBeGreaterThan(-1);
  const block = /```sh\n([\s\S]*?)\n\s*```/.exec(readme.slice(at))![1];
  return block.split("\n").map((line) => line.trim());
}

/**
 * The environment the README's plain-`pulumi` blocks run in: this machine's PATH without any
 * `pulumi` (the blocks put one there), and a Pulumi home of their own (`pulumi stack init`
 * selects the stack there, not in the admin's).
 */
export function readmeShellEnv(pulumiHome: string): Record<string, string> {
  return {
    PATH: process.env
      .PATH!.split(path.delimiter)
      .filter((d) => !fs.existsSync(path.join(d, "pulumi")))
      .join(path.delimiter),
    HOME: process.env.HOME!,
    PULUMI_HOME: pulumiHome,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    LANG: "C.UTF-8",
  };
}
