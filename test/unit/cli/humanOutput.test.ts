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

describe("humanOutput: what the plugin notice leaves behind", () => {
  const notice = (p: string) => `    warning: using pulumi-resource-${p} from $PATH at /x/${p}\n`;
  it("takes the notices out of the stack's counts and drops a Diagnostics section left empty", () => {
    const text =
      "    pulumi:pulumi:Stack fetchml-keys-dev  2 warnings\nDiagnostics:\n  pulumi:pulumi:Stack (fetchml-keys-dev):\n" +
      notice("random") +
      notice("command") +
      "\nResources:\n    8 unchanged\n";
    expect(through(text)).toBe("    pulumi:pulumi:Stack fetchml-keys-dev\nResources:\n    8 unchanged\n");
  });

  it("keeps real warnings and messages, counted without the notices", () => {
    const text =
      " +  pulumi:pulumi:Stack fetchml-keys-dev create 3 warnings; 1 message\nDiagnostics:\n  pulumi:pulumi:Stack (fetchml-keys-dev):\n" +
      notice("random") +
      "    + alice (admin): new key\n" +
      notice("command") +
      "    warning: ! frank: key expires in 5 days\n\nResources:\n";
    expect(through(text)).toBe(
      " +  pulumi:pulumi:Stack fetchml-keys-dev create 1 warning; 1 message\nDiagnostics:\n  pulumi:pulumi:Stack (fetchml-keys-dev):\n" +
        "    + alice (admin): new key\n    warning: ! frank: key expires in 5 days\n\nResources:\n",
    );
  });

  it("shows a failed step's own line once, without the command provider's framing and its repeat of the output", () => {
    const failure = "auth-write: /srv/api.yaml: the new file is in place, but its reload command failed (exit 3): nope; the reload is owed";
    const text =
      ` +  command:local:Command auth-config-write creating (3s) ${failure}\n` +
      ' +  command:local:Command auth-config-write creating (3s) error: exit status 1: running "exec ./bin/fetchml-keys-step auth-write":\n' +
      "    pulumi:pulumi:Stack fetchml-keys-dev **failed** 1 error; 2 warnings\nDiagnostics:\n" +
      `  command:local:Command (auth-config-write):\n    auth config /srv/api.yaml: added alice\n    ${failure}\n` +
      '    error: exit status 1: running "exec ./bin/fetchml-keys-step auth-write":\n' +
      `    auth config /srv/api.yaml: added alice\n    ${failure}\n\n` +
      "  pulumi:pulumi:Stack (fetchml-keys-dev):\n" +
      notice("random") +
      notice("command") +
      "    error: update failed\n\nResources:\n";
    const out = through(text);
    expect(out.split("reload command failed").length - 1).toBe(1);
    expect(out).not.toMatch(/exit status 1: running/);
    expect(out).toContain("    pulumi:pulumi:Stack fetchml-keys-dev **failed** 1 error\n");
    expect(out).toContain("  pulumi:pulumi:Stack (fetchml-keys-dev):\n    error: update failed\n");
  });
});
