/** Where a secret may sit in stack config: the deploy key only (config/rawConfig.ts misplacedSecrets). */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { formatPath } from "../../../config/problems";
import { misplacedSecretProblem, misplacedSecrets } from "../../../config/rawConfig";
import { secretKeys } from "../../../program/loadSettings";

const stackFile = (config: string) => `encryptionsalt: v1:abc\nconfig:\n${config}`;

describe("misplacedSecrets", () => {
  it("finds every secure: leaf of the stack file but servers[N].privateKey, nested ones included", () => {
    const text = stackFile(
      [
        "  fetchml-keys:authConfigPath:",
        "    secure: v1:aaa",
        "  fetchml-keys:servers:",
        "    - host: gpu-box",
        "      configPath:",
        "        secure: v1:bbb",
        "      privateKey:",
        "        secure: v1:ccc",
        "    - host: other",
        "      privateKey:",
        "        secure: v1:ddd",
        "  fetchml-keys:users:",
        "    alice:",
        "      role:",
        "        secure: v1:eee",
        "  random:whatever:",
        "    secure: v1:fff",
      ].join("\n"),
    );
    expect(misplacedSecrets(text, []).map(formatPath)).toEqual(["authConfigPath", "servers[0].configPath", "users.alice.role"]);
  });

  it("counts a whole secret servers list, and the engine's secret top-level keys (config from elsewhere), but no other namespace", () => {
    expect(misplacedSecrets(stackFile("  fetchml-keys:servers:\n    secure: v1:aaa\n"), []).map(formatPath)).toEqual(["servers"]);
    const engine = ["fetchml-keys:deliveryDir", "fetchml-keys:servers", "random:seed"];
    expect(misplacedSecrets(undefined, engine).map(formatPath)).toEqual(["deliveryDir", "servers"]);
    // servers is a secret here, but not in the stack file: where it came from, nothing can be checked.
    expect(misplacedSecrets(stackFile("  fetchml-keys:users: {}\n"), ["fetchml-keys:servers"]).map(formatPath)).toEqual(["servers"]);
  });

  it("refuses a stack file it cannot read whole (read as empty, it would hide every secret): a second document, too many aliases", () => {
    const hidden = "  fetchml-keys:servers:\n    - reloadCommand:\n        secure: v1:aaa\n";
    const aliases = Array.from({ length: 120 }, (_, i) => `  other:k${i}: *a`).join("\n");
    for (const [text, code] of [
      [`${stackFile(hidden)}---\nx: 1\n`, "MULTIPLE_DOCS"],
      [stackFile(`  other:anchor: &a [1]\n${aliases}\n${hidden}`), "ReferenceError"],
      ["not: [valid", "BAD_INDENT"],
    ]) {
      expect(() => misplacedSecrets(text, ["fetchml-keys:servers"])).toThrow(
        `the stack file cannot be read whole to check where its secrets are (${code}): write it as one YAML document, with no more than a few aliases`,
      );
    }
  });

  it("refuses a merge key or an explicit tag (the engine's YAML 1.1 reader applies them, this check's would not), with where", () => {
    // attack41 F1: {secure: X, <<: {}} is a secret to the engine and a two-key map to the yaml package.
    const merged = stackFile("  fetchml-keys:servers:\n    - hostKey: {secure: v1:aaa, <<: {}}\n");
    expect(() => misplacedSecrets(merged, ["fetchml-keys:servers"])).toThrow(
      "the stack file has a merge key (<<) at line 4, column 33: the engine reads it otherwise than the check of where secrets may be",
    );
    expect(() => misplacedSecrets(stackFile("  fetchml-keys:deliveryDir: !!str /srv/keys\n"), [])).toThrow(
      "the stack file has an explicit tag (tag:yaml.org,2002:str) at line 3, column 35",
    );
    // recheck43 F3: U+2028 ends a comment for go-yaml, not for the yaml package.
    for (const c of ["\u2028", "\u2029", "\u0085"])
      expect(() =>
        misplacedSecrets(stackFile(`  fetchml-keys:servers:\n    - host: a # note${c}hostKey:${c}  secure: v1:aaa\n`), [
          "fetchml-keys:servers",
        ]),
      ).toThrow(
        `the stack file has a line break other than \\n (\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}) at line 4, column 21`,
      );
    // Quoted too: whether go-yaml takes a quoted "<<" for a merge is not this check's to guess.
    expect(() => misplacedSecrets(stackFile('  fetchml-keys:users: {"<<": {}}\n'), [])).toThrow(
      "the stack file has a merge key (<<) at line 3",
    );
  });

  it("says where, and never any of the value", () => {
    expect(misplacedSecretProblem(["servers", 0, "configPath"])).toMatch(
      /^servers\[0\]\.configPath: is a secret \(secure:\), and only servers\[\]\.privateKey may be one; its value is not shown\./,
    );
  });

  it("reads the engine's list of secret keys through the SDK (internal there, so this fails if it goes)", () => {
    pulumi.runtime.setAllConfig({ "fetchml-keys:a": "x", "fetchml-keys:b": "y" }, ["fetchml-keys:b"]);
    expect(secretKeys(["fetchml-keys:a", "fetchml-keys:b"])).toEqual(["fetchml-keys:b"]);
  });
});
