/** The `user` commands' edits of a stack file: comments and order kept, checked before written (golden files). */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../config/problems";
import { editStackFile, lineDiff, StackFileError, type UserEdit } from "../../../lib/stackFile";

const golden = (name: string) => fs.readFileSync(path.join(__dirname, "stackFile", name), "utf8");

describe("editStackFile", () => {
  it("adds, rotates, resumes and suspends users, keeping every comment, the order and the secure values (golden file)", () => {
    const edits: UserEdit[] = [
      { kind: "add", name: "dave", role: "analyst" },
      { kind: "rotate", name: "bob" },
      { kind: "resume", name: "carol" },
      { kind: "suspend", name: "alice" },
      { kind: "rotate", name: "dave" },
    ];
    expect(edits.reduce((text, edit) => editStackFile(text, edit), golden("before.yaml"))).toBe(golden("after.yaml"));
  });

  it("removes a user and nothing else", () => {
    const after = editStackFile(golden("before.yaml"), { kind: "remove", name: "carol" });
    expect(after).toBe(
      golden("before.yaml").replace("    # carol is on leave until March\n    carol:\n      role: analyst\n      suspended: true\n", ""),
    );
  });

  it("refuses what stack config would refuse, naming the path and the value, and what does not exist", () => {
    const text = golden("before.yaml");
    expect(() => editStackFile(text, { kind: "add", name: "erin", role: "boss" })).toThrow(ConfigError);
    expect(() => editStackFile(text, { kind: "add", name: "erin", role: "boss" })).toThrow(/users\.erin\.role: unknown value "boss"/);
    expect(() => editStackFile(text, { kind: "add", name: "Erin Smith", role: "analyst" })).toThrow(/bad username "Erin Smith"/);
    expect(() => editStackFile(text, { kind: "add", name: "erin", role: "analyst", delivery: "bitwarden" })).toThrow(
      /needs a bitwarden section/,
    );
    expect(() => editStackFile(text, { kind: "add", name: "bob", role: "analyst" })).toThrow(
      new StackFileError("users.bob already exists"),
    );
    expect(() => editStackFile(text, { kind: "rotate", name: "zed" })).toThrow(
      new StackFileError("users.zed: no such user (users: alice, bob, carol)"),
    );
  });
});

describe("lineDiff", () => {
  it("shows the lines an edit added and removed, with context and line numbers", () => {
    const before = "a\nb\nc\nd\ne\nf\ng\n";
    const after = "a\nb\nc\nX\nd\ne\nf\n";
    expect(lineDiff(before, after, "s.yaml", 1)).toEqual([
      "--- s.yaml",
      "+++ s.yaml",
      "@@ -3,2 +3,3 @@",
      " c",
      "+X",
      " d",
      "@@ -6,3 +7,2 @@",
      " f",
      "-g",
      " ",
    ]);
    expect(lineDiff(before, before, "s.yaml")).toEqual([]);
  });
});

describe("user add without a role", () => {
  const file = (defaults: string) =>
    `config:\n${defaults}  fetchml-keys:authConfigPath: x.yaml\n  fetchml-keys:users:\n    alice:\n      role: admin\n`;
  it("takes defaults.role", () => {
    const after = editStackFile(file("  fetchml-keys:defaults:\n    role: analyst\n"), { kind: "add", name: "dave" });
    expect(after).toContain("    dave: {}\n");
  });
  it("is refused naming the missing role when there is no defaults.role", () => {
    expect(() => editStackFile(file(""), { kind: "add", name: "dave" })).toThrow(/users\.dave\.role: missing \(no defaults\.role/);
  });
  it("names a key in a mistyped namespace", () => {
    expect(() => editStackFile(file("  fetchml-key:rotateAll: 1\n"), { kind: "add", name: "dave", role: "admin" })).toThrow(
      /fetchml-key:rotateAll: unknown key/,
    );
  });
});
