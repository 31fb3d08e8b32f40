/** The auth steps on real files, through their real entry point (bin/fetchml-keys-step). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROLE_PRESETS } from "../../../config/roles";
import { runStep } from "../../support/steps";

const h = (c: string) => c.repeat(64);
const entry = (hash: string) => ({ hash, ...structuredClone(ROLE_PRESETS.researcher) });
const STACK = "organization/fetchml-keys/test";
const SERVER = "# the admin's comment\nserver:\n  port: 9101\nauth:\n  enabled: true\n  api_keys:\n    mallory:\n      hash: x\n";

let dir: string;
let file: string;
let reloadLog: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "step-"));
  file = path.join(dir, "server.yaml");
  reloadLog = path.join(dir, "reloads");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const mode = (f: string) => fs.statSync(f).mode & 0o777;
const target = (over: Record<string, unknown> = {}) => ({
  kind: "local",
  configPath: file,
  reloadCommand: `echo r >> ${reloadLog}`,
  ...over,
});
const write = (entries: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
  stack: STACK,
  target: target(),
  entries: Object.entries(entries),
  preserve: [],
  generation: 0,
  ...over,
});
const entries = () => parse(fs.readFileSync(file, "utf8")).auth.api_keys;
const reloads = () => (fs.existsSync(reloadLog) ? fs.readFileSync(reloadLog, "utf8").split("\n").filter(Boolean).length : 0);
const record = () => JSON.parse(fs.readFileSync(path.join(dir, ".server.yaml.fetchml-keys"), "utf8"));

describe("auth-write", () => {
  it("merges, keeps the file's mode less others' bits, names the revoked entry, records ownership, reloads once", async () => {
    fs.writeFileSync(file, SERVER, { mode: 0o644 });
    const run = await runStep("auth-write", write({ bob: entry(h("b")) }, { generation: 4 }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("added bob; REVOKED mallory");
    expect(run.stdout + run.stderr).not.toContain(h("b"));
    expect(entries()).toEqual({ bob: entry(h("b")) });
    expect(fs.readFileSync(file, "utf8").startsWith("# the admin's comment\nserver:\n  port: 9101\n")).toBe(true);
    expect(mode(file)).toBe(0o640);
    expect(fs.existsSync(`${file}.bak`)).toBe(false); // a backup would keep revoked hashes
    expect(record()).toMatchObject({
      stack: STACK,
      writer: JSON.parse(run.stdout).writer,
      generation: 4,
      reloadPending: false,
      managed: ["bob"],
    });
    expect(mode(path.join(dir, ".server.yaml.fetchml-keys"))).toBe(0o600);
    expect(reloads()).toBe(1);
  });

  it("keeps its writer id across updates and does not touch an unchanged file (mtime included)", async () => {
    const first = await runStep("auth-write", write({ bob: entry(h("b")) }));
    const before = fs.statSync(file).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const again = await runStep("auth-write", write({ bob: entry(h("b")) }), { previousStdout: first.stdout });
    expect(again.stderr).toContain("no change");
    expect(JSON.parse(again.stdout).writer).toBe(JSON.parse(first.stdout).writer);
    expect(fs.statSync(file).mtimeMs).toBe(before);
    expect(reloads()).toBe(1);
  });

  it("creates a missing file 0600 with auth enabled", async () => {
    expect((await runStep("auth-write", write({ bob: entry(h("b")) }))).code).toBe(0);
    expect(parse(fs.readFileSync(file, "utf8")).auth.enabled).toBe(true);
    expect(mode(file)).toBe(0o600);
  });

  it("writes through a symbolic link to the real file, and leaves the link a link", async () => {
    const real = path.join(dir, "real.yaml");
    fs.writeFileSync(real, SERVER, { mode: 0o600 });
    fs.symlinkSync(real, file);
    expect((await runStep("auth-write", write({ bob: entry(h("b")) }))).code).toBe(0);
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
    expect(parse(fs.readFileSync(real, "utf8")).auth.api_keys).toEqual({ bob: entry(h("b")) });
    expect(fs.existsSync(path.join(dir, ".real.yaml.fetchml-keys"))).toBe(true);
  });

  it("fails on a malformed file, leaves it byte-identical and never prints its content", async () => {
    const bad = `auth:\n  api_keys:\n    bob: {hash: "${h("c")}"\n`;
    fs.writeFileSync(file, bad, { mode: 0o600 });
    const run = await runStep("auth-write", write({ bob: entry(h("b")) }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/not valid YAML: line \d+ column \d+.*left untouched/);
    expect(run.stderr + run.stdout).not.toContain(h("c"));
    expect(fs.readFileSync(file, "utf8")).toBe(bad);
    expect(fs.readdirSync(dir)).toEqual(["server.yaml"]);
  });

  it("rejects garbage or a wrong request on stdin without echoing it", async () => {
    const garbage = await runStep("auth-write", `{"target": "${h("9")}"`);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toContain("stdin is not a JSON document");
    const wrong = await runStep("auth-write", write({ bob: { ...entry(h("b")), hash: h("Z") } }));
    expect(wrong.stderr).toMatch(/does not match the step's request \(at entries\.0\.1\.hash\)/);
    expect(garbage.stderr + wrong.stderr).not.toMatch(/9999|ZZZZ/);
  });

  it("takes only a stack's whole name (org/project/stack) as the owner it records, as every step does", async () => {
    for (const stack of ["dev", "organization/fetchml-keys/dev\nsecond line", "a/b/c/d"]) {
      const run = await runStep("auth-write", write({ bob: entry(h("b")) }, { stack }));
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/does not match the step's request \(at stack\)/);
    }
    expect(fs.existsSync(file)).toBe(false);
  });

  it("refuses a file another stack owns, naming both stacks, and changes nothing", async () => {
    await runStep("auth-write", write({ bob: entry(h("b")) }, { stack: "organization/fetchml-keys/prod" }));
    const before = fs.readFileSync(file, "utf8");
    const run = await runStep("auth-write", write({ carol: entry(h("c")) }));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`is managed by stack organization/fetchml-keys/prod; this stack (${STACK}) will not touch it`);
    expect(fs.readFileSync(file, "utf8")).toBe(before);
  });

  it("retries a reload that failed: the next run reloads even though the file is already right", async () => {
    const failing = write({ bob: entry(h("b")) }, { target: target({ reloadCommand: "exit 3" }) });
    const first = await runStep("auth-write", failing);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("reload command failed (exit 3)");
    expect(entries()).toEqual({ bob: entry(h("b")) });
    expect(record().reloadPending).toBe(true);
    const second = await runStep("auth-write", write({ bob: entry(h("b")) }));
    expect(second.stderr).toContain("ran the reload a previous run still owed");
    expect(reloads()).toBe(1);
    expect(record().reloadPending).toBe(false);
  });

  it("rewrites a record it cannot use (cut off, or a generation past what a record may hold) from the request and the file", async () => {
    const first = await runStep("auth-write", write({ bob: entry(h("b")) }, { generation: 3 }));
    const recordFile = path.join(dir, ".server.yaml.fetchml-keys");
    const whole = fs.readFileSync(recordFile, "utf8");
    fs.writeFileSync(recordFile, whole.slice(0, 40));
    const cut = await runStep("auth-write", write({ bob: entry(h("b")) }, { generation: 4 }), { previousStdout: first.stdout });
    expect(cut.code, cut.stderr).toBe(0);
    expect(cut.stderr).toContain("its record is unusable (not valid JSON); rewriting it");
    expect(record()).toMatchObject({ stack: STACK, writer: JSON.parse(first.stdout).writer, generation: 4, managed: ["bob"] });
    fs.writeFileSync(recordFile, whole.replace('"generation": 3', `"generation": ${2 ** 53}`));
    // The program never asks for a generation past the largest (the request schema refuses one);
    // a target it could not reach (null) gets the one after the record's, here unusable.
    const past = await runStep("auth-write", write({ bob: entry(h("b")) }, { generation: 2 ** 53 + 2 }), { previousStdout: first.stdout });
    expect(past.code).not.toBe(0);
    expect(record().generation).toBe(2 ** 53);
    const big = await runStep("auth-write", write({ bob: entry(h("b")) }, { generation: null }), { previousStdout: first.stdout });
    expect(big.code, big.stderr).toBe(0);
    expect(record().generation).toBe(1); // past the largest: starts again, within the schema
    expect(reloads()).toBe(1);
  }, 30_000);
});

describe("auth-revoke", () => {
  it("takes out every entry not kept, adds or changes nothing, and reloads", async () => {
    fs.writeFileSync(file, SERVER.replace("mallory:", `bob:\n      hash: "${h("b")}"\n    mallory:`), { mode: 0o600 });
    const run = await runStep("auth-revoke", { stack: STACK, target: target(), keep: ["bob", "nobody"] });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("removed mallory");
    expect(run.stderr).not.toContain("REVOKED");
    expect(entries()).toEqual({ bob: { hash: h("b") } });
    expect(reloads()).toBe(1);
  });
});

describe("auth-remove (the write step's delete)", () => {
  it("takes out exactly this stack's entries and its record, and leaves preserved ones", async () => {
    fs.writeFileSync(file, SERVER);
    const request = write({ bob: entry(h("b")) }, { preserve: ["mallory"] });
    const wrote = await runStep("auth-write", request);
    const run = await runStep("auth-remove", request, { previousStdout: wrote.stdout });
    expect(run.stderr).toContain("removed bob");
    expect(entries()).toEqual({ mallory: { hash: "x" } });
    expect(fs.existsSync(path.join(dir, ".server.yaml.fetchml-keys"))).toBe(false);
  });

  it("removes nothing once a newer write step of this stack took the file over (a replaced writer)", async () => {
    const request = write({ bob: entry(h("b")) });
    const old = await runStep("auth-write", request);
    await runStep("auth-write", request); // the replacement: no previous stdout, a new writer id
    const run = await runStep("auth-remove", request, { previousStdout: old.stdout });
    expect(run.stderr).toContain("written since by a newer step of this stack; nothing removed");
    expect(entries()).toEqual({ bob: entry(h("b")) });
  });
});
