/** The delivery step on real files: 0600 ml configs in a directory only this user controls. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runStep } from "../../support/steps";
import { NOBODY } from "../../support/nobody";

let root: string;
let dir: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "delivery-"));
  dir = path.join(root, "deliver");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const mode = (f: string) => fs.statSync(f).mode & 0o777;
const STACK = "organization/fetchml-keys/dev";

describe("delivery-write and delivery-remove", () => {
  it("writes each file 0600 in a 0700 directory it creates, rewrites only what changed, removes users no longer delivered", async () => {
    const first = await runStep("delivery-write", {
      stack: STACK,
      dir,
      files: [
        ["alice", "a1\n"],
        ["bob", "b1\n"],
      ],
      generation: 0,
    });
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ files: ["alice.toml", "bob.toml"], writer: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, "alice.toml"))).toBe(0o600);
    const aliceMtime = fs.statSync(path.join(dir, "alice.toml")).mtimeMs;
    const second = await runStep(
      "delivery-write",
      { stack: STACK, dir, files: [["alice", "a1\n"]], generation: 0 },
      { previousStdout: first.stdout },
    );
    expect(second.stderr).toContain(`removed ${path.join(dir, "bob.toml")}`);
    expect(JSON.parse(second.stdout).writer).toBe(JSON.parse(first.stdout).writer);
    expect(fs.statSync(path.join(dir, "alice.toml")).mtimeMs).toBe(aliceMtime);
    await runStep("delivery-remove", { stack: STACK, dir, files: [["alice", "a1\n"]], generation: 0 }, { previousStdout: second.stdout });
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 30_000);

  // Issue 24 item 4, at the step: a replaced step (the same directory spelled another way, or
  // --replace) ran its delete after its successor wrote, and deleted every file. Before: the
  // files were gone after this delete.
  it("a replaced step's delete leaves the files its successor wrote", async () => {
    const old = await runStep("delivery-write", { stack: STACK, dir, files: [["alice", "a1\n"]], generation: 0 });
    const successor = await runStep("delivery-write", { stack: STACK, dir, files: [["alice", "a1\n"]], generation: 0 });
    expect(JSON.parse(successor.stdout).writer).not.toBe(JSON.parse(old.stdout).writer);
    const remove = await runStep(
      "delivery-remove",
      { stack: STACK, dir, files: [["alice", "a1\n"]], generation: 0 },
      { previousStdout: old.stdout },
    );
    expect(remove.code, remove.stderr).toBe(0);
    expect(remove.stderr).toContain("written since by a newer delivery step of this stack; nothing removed");
    expect(fs.readFileSync(path.join(dir, "alice.toml"), "utf8")).toBe("a1\n");
  }, 30_000);

  // Found by an attack as uid 65534: a delivery directory inside a directory that account owns
  // was accepted; swapping it (rename exchange) during the step left a live key in a temp file
  // of the account's own directory. Every directory on the way must be closed to others.
  it("refuses a delivery directory whose parent another account owns or can write, and writes nothing", async () => {
    const parent = path.join(root, "theirs");
    fs.mkdirSync(parent, { mode: 0o755 });
    fs.chownSync(parent, NOBODY, NOBODY);
    const inside = path.join(parent, "deliver");
    const owned = await runStep("delivery-write", { stack: STACK, dir: inside, files: [["alice", "a1\n"]], generation: 0 });
    expect(owned.code).not.toBe(0);
    expect(owned.stderr).toContain(`${parent} belongs to`);
    expect(fs.existsSync(inside)).toBe(false);
    fs.chownSync(parent, 0, 0);
    fs.chmodSync(parent, 0o775);
    const writable = await runStep("delivery-write", { stack: STACK, dir: inside, files: [["alice", "a1\n"]], generation: 0 });
    expect(writable.code).not.toBe(0);
    expect(writable.stderr).toContain(`${parent} is writable by group`);
    expect(fs.existsSync(inside)).toBe(false);
  }, 30_000);

  it("refuses a directory that belongs to another user, or that others can read, and writes nothing", async () => {
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.writeFileSync(path.join(dir, "alice.toml"), "", { mode: 0o600 });
    fs.chownSync(dir, NOBODY, NOBODY);
    fs.chownSync(path.join(dir, "alice.toml"), NOBODY, NOBODY);
    const theirs = await runStep("delivery-write", { stack: STACK, dir, files: [["alice", "secret\n"]], generation: 0 });
    expect(theirs.code).toBe(1);
    expect(theirs.stderr).toContain(`belongs to uid ${NOBODY}, not to this user`);
    expect(fs.readFileSync(path.join(dir, "alice.toml"), "utf8")).toBe("");
    fs.chownSync(dir, 0, 0);
    fs.chmodSync(dir, 0o755);
    expect((await runStep("delivery-write", { stack: STACK, dir, files: [["bob", "secret\n"]], generation: 0 })).stderr).toContain(
      "others have access (mode 755)",
    );
  });

  it("refuses another user's file in its place, and a directory under one anybody may write to", async () => {
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.writeFileSync(path.join(dir, "alice.toml"), "", { mode: 0o600 });
    fs.chownSync(path.join(dir, "alice.toml"), NOBODY, NOBODY);
    const run = await runStep("delivery-write", { stack: STACK, dir, files: [["alice", "secret\n"]], generation: 0 });
    expect(run.stderr).toContain("refusing to write a key into another user's file");
    expect(fs.readFileSync(path.join(dir, "alice.toml"), "utf8")).toBe("");
    fs.chmodSync(root, 0o777);
    expect((await runStep("delivery-write", { stack: STACK, dir: path.join(root, "other"), files: [], generation: 0 })).stderr).toContain(
      "is writable by every user",
    );
  });
});

// attack46 F2: two stacks given one deliveryDir. The second stack's step wrote its own key over
// the first stack's alice.toml and removed its bob.toml (the manifest named no stack).
describe("a delivery directory another stack delivers into", () => {
  it("is neither written nor emptied by another stack's step; a manifest without a stack (1.0.0's) is taken over and gets one", async () => {
    const both: Array<[string, string]> = [
      ["alice", "a1\n"],
      ["bob", "b1\n"],
    ];
    const first = await runStep("delivery-write", { stack: STACK, dir, files: both, generation: 0 });
    expect(first.code, first.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, ".fetchml-keys-delivery"), "utf8").split("\n")[0]).toBe(`# stack ${STACK}`);
    const other = "organization/fetchml-keys/lab";
    const write = await runStep("delivery-write", { stack: other, dir, files: [["alice", "other-a\n"]], generation: 0 });
    expect(write.code).toBe(1);
    expect(write.stderr).toContain(
      `deliveryDir ${dir}: stack ${STACK} delivers into it (its .fetchml-keys-delivery says so), and two stacks there would overwrite and remove each other's files; nothing was written. Give each stack its own deliveryDir`,
    );
    const remove = await runStep("delivery-remove", { stack: other, dir, files: [], generation: 0 });
    expect(remove.code, remove.stderr).toBe(0);
    expect(remove.stderr).toContain("nothing removed");
    expect(fs.readdirSync(dir).sort()).toEqual([".fetchml-keys-delivery", "alice.toml", "bob.toml"]);
    expect(fs.readFileSync(path.join(dir, "alice.toml"), "utf8")).toBe("a1\n");
    // A manifest as 1.0.0 wrote it (no stack line): this stack's update takes it over.
    const manifest = path.join(dir, ".fetchml-keys-delivery");
    fs.writeFileSync(manifest, fs.readFileSync(manifest, "utf8").replace(`# stack ${STACK}\n`, ""));
    const again = await runStep("delivery-write", { stack: STACK, dir, files: both, generation: 0 }, { previousStdout: first.stdout });
    expect(again.code, again.stderr).toBe(0);
    expect(fs.readFileSync(manifest, "utf8").split("\n")[0]).toBe(`# stack ${STACK}`);
  }, 30_000);
});
