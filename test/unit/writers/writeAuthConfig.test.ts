import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROLE_PRESETS } from "../../../config/roles";
import { runWriter, startWriter } from "../../support/writers";

const h = (c: string) => c.repeat(64);
const entry = (hash: string) => ({ hash, ...structuredClone(ROLE_PRESETS.researcher) });
const SERVER = "# the admin's comment\nserver:\n  port: 9101\nauth:\n  enabled: true\n  api_keys:\n    mallory:\n      hash: x\n";

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "writer-"));
  file = path.join(dir, "server.yaml");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const mode = (f: string) => fs.statSync(f).mode & 0o777;

describe("write-auth-config (real files)", () => {
  it("merges, writes 0600, keeps a 0600 backup, and names the revoked user", async () => {
    fs.writeFileSync(file, SERVER, { mode: 0o644 });
    const run = await runWriter("write-auth-config", "apply", { path: file, entries: { bob: entry(h("b")) }, preserve: [] });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("added bob");
    expect(run.stdout).toContain("REVOKED mallory (no active user of that name in stack config)");
    expect(run.stdout + run.stderr).not.toContain(h("b"));
    expect(parse(fs.readFileSync(file, "utf8")).auth.api_keys).toEqual({ bob: entry(h("b")) });
    expect(fs.readFileSync(file, "utf8").startsWith("# the admin's comment\nserver:\n  port: 9101\n")).toBe(true);
    expect(mode(file)).toBe(0o600);
    expect(fs.readFileSync(`${file}.bak`, "utf8")).toBe(SERVER);
    expect(mode(`${file}.bak`)).toBe(0o600);
  });

  it("does not touch the file when nothing changes (mtime included)", async () => {
    const input = { path: file, entries: { bob: entry(h("b")) }, preserve: [] };
    await runWriter("write-auth-config", "apply", input);
    const before = fs.statSync(file).mtimeMs;
    fs.rmSync(`${file}.bak`, { force: true });
    await new Promise((r) => setTimeout(r, 20));
    const run = await runWriter("write-auth-config", "apply", input);
    expect(run.stdout).toContain("no change");
    expect(fs.statSync(file).mtimeMs).toBe(before);
    expect(fs.existsSync(`${file}.bak`)).toBe(false);
  });

  it("creates a missing file with auth enabled", async () => {
    const run = await runWriter("write-auth-config", "apply", { path: file, entries: { bob: entry(h("b")) }, preserve: [] });
    expect(run.code).toBe(0);
    expect(parse(fs.readFileSync(file, "utf8")).auth.enabled).toBe(true);
    expect(mode(file)).toBe(0o600);
  });

  it("fails on a malformed file, leaves it byte-identical and never prints its content", async () => {
    const bad = `auth:\n  api_keys:\n    bob: {hash: "${h("c")}"\n`;
    fs.writeFileSync(file, bad, { mode: 0o600 });
    const run = await runWriter("write-auth-config", "apply", { path: file, entries: { bob: entry(h("b")) }, preserve: [] });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/not valid YAML: line \d+ column \d+.*left untouched/);
    expect(run.stderr + run.stdout).not.toContain(h("c"));
    expect(fs.readFileSync(file, "utf8")).toBe(bad);
    expect(fs.readdirSync(dir)).toEqual(["server.yaml"]);
  });

  it("rejects garbage on stdin without echoing it", async () => {
    const run = await runWriter("write-auth-config", "apply", `{"path": "${file}", "entries": ${h("9")}`);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("stdin is not the expected JSON document");
    expect(run.stderr).not.toContain(h("9"));
  });

  it("remove takes out only the listed entries and leaves preserved ones", async () => {
    fs.writeFileSync(file, SERVER);
    await runWriter("write-auth-config", "apply", { path: file, entries: { bob: entry(h("b")) }, preserve: ["mallory"] });
    const run = await runWriter("write-auth-config", "remove", { path: file, entries: { bob: entry(h("b")) }, preserve: ["mallory"] });
    expect(run.stdout).toContain("removed bob");
    expect(parse(fs.readFileSync(file, "utf8")).auth.api_keys).toEqual({ mallory: { hash: "x" } });
  });

  it("a writer killed mid-write leaves the old or the new file, never a torn one", async () => {
    // A large file (comments) so the write takes long enough to be interrupted.
    const padding = `# ${"x".repeat(120)}\n`.repeat(60_000);
    const oldText = `${padding}auth:\n  enabled: true\n  api_keys:\n    bob:\n      hash: "${h("a")}"\n`;
    fs.writeFileSync(file, oldText, { mode: 0o600 });
    let interrupted = 0;
    for (let i = 0; i < 4; i++) {
      const current = fs.readFileSync(file, "utf8");
      const { child, done } = startWriter("write-auth-config", "apply", {
        path: file,
        entries: { bob: entry(h(i % 2 === 0 ? "b" : "c")) },
        preserve: [],
      });
      // Kill as soon as the temp file exists, i.e. while the new content is being written.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !fs.readdirSync(dir).some((n) => n.endsWith(".tmp")) && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 1));
      }
      child.kill("SIGKILL");
      const run = await done;
      if (run.signal === "SIGKILL") interrupted++;
      const after = fs.readFileSync(file, "utf8");
      const hash = parse(after).auth.api_keys.bob.hash;
      expect(after === current || hash === h(i % 2 === 0 ? "b" : "c")).toBe(true);
      expect(after.startsWith(padding)).toBe(true);
      fs.writeFileSync(file, oldText, { mode: 0o600 });
    }
    expect(interrupted).toBeGreaterThan(0);
    // The next writer cleans up the dead writers' temp files (they hold hashes).
    await runWriter("write-auth-config", "apply", { path: file, entries: { bob: entry(h("d")) }, preserve: [] });
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  }, 120_000);
});

describe("write-secret-file", () => {
  it("writes 0600 in a 0700 directory it creates, and removes", async () => {
    const target = path.join(dir, "deliver", "bob.toml");
    const run = await runWriter("write-secret-file", "write", { path: target, content: 'api_key = "k"\n' });
    expect(run.code).toBe(0);
    expect(fs.readFileSync(target, "utf8")).toBe('api_key = "k"\n');
    expect(mode(target)).toBe(0o600);
    expect(mode(path.dirname(target))).toBe(0o700);
    expect((await runWriter("write-secret-file", "remove", { path: target, content: "" })).stdout).toContain("removed");
    expect(fs.existsSync(target)).toBe(false);
  });
});
