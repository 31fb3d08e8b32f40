/** The SSH target on its own, against a real sshd on loopback: no engine, a second or two. */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SshTargetSpec } from "../../../targets/spec";
import { openSshTarget } from "../../../targets/ssh";
import { keyPairInMemory, TestSshd } from "../../support/sshd";

let sshd: TestSshd;
let other: TestSshd;
let spec: SshTargetSpec;
let file: string;

beforeAll(async () => {
  const pair = keyPairInMemory("deploy");
  sshd = await TestSshd.start(pair.publicKey);
  other = await TestSshd.start(pair.publicKey);
  file = path.join(sshd.dir, "api.yaml");
  const reloadEnv = path.join(sshd.dir, "reload.env");
  spec = {
    kind: "ssh",
    name: "box",
    host: "127.0.0.1",
    port: sshd.port,
    user: sshd.user,
    privateKey: pair.privateKey,
    hostKey: sshd.hostKey,
    configPath: file,
    reloadCommand: `env > ${reloadEnv}`,
  };
});
afterAll(async () => {
  await sshd?.stop();
  await other?.stop();
});

describe("the SSH target", () => {
  it("is the server's host key and the real path, however the host or the path is spelled", async () => {
    fs.writeFileSync(file, "a: 1\n", { mode: 0o640 });
    fs.symlinkSync(file, path.join(sshd.dir, "link.yaml"));
    const ids: string[] = [];
    for (const variant of [spec, { ...spec, host: "localhost" }, { ...spec, configPath: path.join(sshd.dir, "link.yaml") }]) {
      const io = await openSshTarget(variant);
      ids.push(await io.identity());
      await io.close();
    }
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(new RegExp(`^ssh:SHA256:[A-Za-z0-9+/]+:${file}$`));
  });

  it("refuses a server whose host key is not the configured one, before sending anything", async () => {
    await expect(openSshTarget({ ...spec, port: other.port })).rejects.toThrow(
      /box \(.*\): the server's host key does not match the configured hostKey \(refusing to connect\)/,
    );
  });

  it("reads, replaces by rename keeping mode less others' bits, writes the record 0600, and reloads with no environment of ours", async () => {
    fs.writeFileSync(file, "old: true\n", { mode: 0o644 });
    const inode = fs.statSync(file).ino;
    const io = await openSshTarget(spec);
    try {
      const read = await io.read();
      // Where the file is: this machine's boot id, its device and inode (as a local read says it).
      const st = fs.statSync(file);
      const boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      expect(read).toEqual({ config: "old: true\n", record: undefined, place: `${boot}:${st.dev}:${st.ino}`, mode: st.mode & 0o7777 });
      expect(await io.writeConfig("new: true\n", read.config)).toBe("written");
      await io.writeRecord('{"format":1}\n');
      await io.reload();
      expect((await io.read()).record).toBe('{"format":1}\n');
    } finally {
      await io.close();
    }
    expect(fs.readFileSync(file, "utf8")).toBe("new: true\n");
    expect(fs.statSync(file).ino).not.toBe(inode);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.join(sshd.dir, ".api.yaml.fetchml-keys")).mode & 0o777).toBe(0o600);
    const env = fs.readFileSync(path.join(sshd.dir, "reload.env"), "utf8");
    expect(env).not.toMatch(/PULUMI_|BW_|VITEST/);
  });

  it("keeps an admin's edit made between the read and the replace: nothing is replaced, also over a file created since", async () => {
    fs.writeFileSync(file, "old: true\n", { mode: 0o600 });
    const io = await openSshTarget(spec);
    try {
      const read = await io.read();
      fs.appendFileSync(file, "# the admin's edit\n");
      expect(await io.writeConfig("merged: from a stale read\n", read.config)).toBe("changed-meanwhile");
      expect(fs.readFileSync(file, "utf8")).toBe("old: true\n# the admin's edit\n");
      fs.rmSync(file);
      const absent = await io.read();
      fs.writeFileSync(file, "# the admin's new file\n");
      expect(await io.writeConfig("merged: from a stale read\n", absent.config)).toBe("changed-meanwhile");
      expect(fs.readFileSync(file, "utf8")).toBe("# the admin's new file\n");
    } finally {
      await io.close();
    }
    expect(fs.readdirSync(sshd.dir).filter((n) => n.includes(".fetchml-keys.") && n !== ".api.yaml.fetchml-keys")).toEqual([]);
  }, 30_000);

  it("creates a missing file 0600 and says when a reload fails", async () => {
    fs.rmSync(file, { force: true });
    const io = await openSshTarget({ ...spec, reloadCommand: "echo nope >&2; exit 4" });
    try {
      expect(await io.writeConfig("a: 1\n", undefined)).toBe("written");
      await expect(io.reload()).rejects.toThrow(
        /box \(.*\): the new file is in place, but its reload command failed \(exit 4\): nope; the reload is owed/,
      );
    } finally {
      await io.close();
    }
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("refuses a file in a server directory another account owns or may write, naming it and the fix", async () => {
    const svc = path.join(sshd.dir, "svc");
    fs.mkdirSync(svc, { mode: 0o755 });
    fs.writeFileSync(path.join(svc, "api.yaml"), "a: 1\n");
    fs.chownSync(svc, 65534, 65534);
    const io = await openSshTarget({ ...spec, configPath: path.join(svc, "api.yaml") });
    try {
      await expect(io.identity()).rejects.toThrow(
        `box (${spec.user}@127.0.0.1:${spec.port}:${svc}/api.yaml): on the server, ${svc} belongs to uid 65534, not to root`,
      );
      fs.chownSync(svc, 0, 0);
      fs.chmodSync(svc, 0o777);
      const again = await openSshTarget({ ...spec, configPath: path.join(svc, "api.yaml") });
      await expect(again.read()).rejects.toThrow(`on the server, ${svc} is writable by every account (mode 777)`);
      await again.close();
    } finally {
      await io.close();
      fs.rmSync(svc, { recursive: true, force: true });
    }
  });
});
