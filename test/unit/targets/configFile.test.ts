/**
 * Issue 24 item 5: a local target whose path is a directory, too long, a pipe, under a missing
 * directory, or a file over the size limit gives one plain line naming the path and what is
 * wrong (an AuthConfigError, which the program and the steps print as is). Before: the
 * directory and the long path ended in raw EISDIR / ENAMETOOLONG errors, and a 50 MB file
 * was read and parsed whole.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthConfigError } from "../../../lib/serverConfig";
import { TargetError } from "../../../targets/io";
import { LocalTarget } from "../../../targets/local";

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "config-file-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const read = (configPath: string) => new LocalTarget({ kind: "local", configPath }).read();

describe("reading a local server config", () => {
  it("a directory: one plain line", async () => {
    // Inside the test's own 0700 directory: one directly in /tmp is refused earlier, for /tmp.
    const sub = path.join(dir, "conf.d");
    fs.mkdirSync(sub);
    const error = await read(sub).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthConfigError);
    expect((error as Error).message).toBe(`${sub}: is a directory; name the config file itself (e.g. ${sub}/api.yaml)`);
  });

  it("a path too long: one plain line", async () => {
    const long = path.join(dir, "x".repeat(300), "api.yaml");
    const error = await read(long).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthConfigError);
    expect((error as Error).message).toMatch(
      /^\/.*: the path is too long \(\d+ bytes; Linux takes at most 4095, and 255 for each name in it\)$/,
    );
  });

  it("a missing directory, or a file where a directory should be: one plain line", async () => {
    await expect(read(path.join(dir, "nope", "api.yaml"))).rejects.toThrow(TargetError);
    fs.writeFileSync(path.join(dir, "file"), "");
    await expect(read(path.join(dir, "file", "api.yaml"))).rejects.toThrow(/: a part of the path is a file, not a directory$/);
  });

  it("a named pipe is refused at once, not waited on", async () => {
    const fifo = path.join(dir, "api.yaml");
    execFileSync("mkfifo", [fifo]);
    await expect(read(fifo)).rejects.toThrow(/is not a regular file/);
  });

  it("a file over 4 MiB is refused from its size, before it is read", async () => {
    const big = path.join(dir, "api.yaml");
    fs.writeFileSync(big, "auth:\n  api_keys: {}\n");
    fs.truncateSync(big, 50 * 1024 * 1024);
    const error = await read(big).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthConfigError);
    expect((error as Error).message).toBe(
      `${big}: 52428800 bytes, more than the 4194304 (4 MiB) a FetchML server config may have here; refused before reading it, the file was left untouched`,
    );
  });
});
