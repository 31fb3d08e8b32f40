/** Bad stack config fails the preview with the path and value, and changes nothing. */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG } from "../support/fixtures";

let e2e: E2EStack;
let serverFile: string;
const base = () => ({ authConfigPath: serverFile, preserveEntries: ["svc-backup", "mallory"], users: { alice: { role: "admin" } } });

beforeAll(async () => {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, SERVER_CONFIG, { mode: 0o600 });
  e2e.setConfig(base());
  await e2e.up();
});
afterAll(async () => {
  await e2e?.cleanup();
});

const cases: Array<[string, Record<string, unknown>, RegExp]> = [
  [
    "an unknown role",
    { users: { alice: { role: "admin" }, bob: { role: "reseacher" } } },
    /users\.bob\.role: unknown value "reseacher" \(expected admin, researcher, analyst\)/,
  ],
  ["a typo'd key", { users: { alice: { role: "admin", rotaton: 1 } } }, /users\.alice\.rotaton: unknown key "rotaton"/],
  [
    "a bad username",
    { users: { alice: { role: "admin" }, "Bob Smith": { role: "analyst" } } },
    /users\."Bob Smith": bad username "Bob Smith"/,
  ],
  ["an empty user list", { users: {} }, /users: no users declared; an empty list would revoke every key/],
];

describe("bad stack config with the real engine", () => {
  it.each(cases)("%s fails the preview with a clear message and leaves the file byte-identical", async (_label, change, message) => {
    const before = fs.readFileSync(serverFile);
    const mtime = fs.statSync(serverFile).mtimeMs;
    e2e.setConfig({ ...base(), ...change });
    const error = await e2e.preview().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeDefined();
    expect(e2e.output() + String(error?.message)).toMatch(message);
    expect(fs.readFileSync(serverFile).equals(before)).toBe(true);
    expect(fs.statSync(serverFile).mtimeMs).toBe(mtime);
    // An up with the same config fails the same way, before touching anything.
    await expect(e2e.up()).rejects.toThrow();
    expect(fs.readFileSync(serverFile).equals(before)).toBe(true);
  });

  it("reports every problem of a config at once", async () => {
    e2e.setConfig({ ...base(), users: { alice: { role: "boss", rotaton: 1 }, "x y": { role: "admin" } } });
    const error = await e2e.preview().then(
      () => undefined,
      (e: Error) => e,
    );
    const text = e2e.output() + String(error?.message);
    expect(text).toMatch(/invalid stack config \(3 problems\)/);
  });
});
