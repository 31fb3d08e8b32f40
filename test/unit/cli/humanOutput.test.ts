import { describe, expect, it } from "vitest";
import { humanOutput } from "../../../cli/humanOutput";

function through(text: string, chunk = 7): string {
  let out = "";
  const h = humanOutput((s) => (out += s));
  for (let i = 0; i < text.length; i += chunk) h.onOutput(text.slice(i, i + chunk));
  h.flush();
  return out;
}

describe("humanOutput", () => {
  it("shows each error block once, however the stream is cut, and keeps the rest", () => {
    const block = `    error: invalid stack config (1 problem):\n      - users.carol.role: unknown value "boss"\n`;
    const text = `Diagnostics:\n  pulumi:pulumi:Stack (x):\n${block}${block}\nResources:\n    1 unchanged\n`;
    expect(through(text)).toBe(`Diagnostics:\n  pulumi:pulumi:Stack (x):\n${block}\nResources:\n    1 unchanged\n`);
  });

  it("drops the engine's notice about plugins from $PATH and lines repeated back to back", () => {
    const text = "warning: using pulumi-resource-random from $PATH at /x\n+ a\n+ a\n+ b\n\n\n";
    expect(through(text)).toBe("+ a\n+ b\n\n\n");
  });
});
