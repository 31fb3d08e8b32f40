/**
 * A state writer without the passphrase names, in the state, a cloud secrets provider of its
 * own: an awskms:// URL whose endpoint is a key service uid 65534 runs on loopback. With AWS
 * credentials in the engine's environment (the S3 backend), the engine asks it for the data key,
 * which it chose, and takes the writer's ciphertext for a request of the write step's, whose
 * reload command then ran as the admin at the runner's destroy (recheck46 F6: 3 of 3, uid 0).
 * The runner's state check now refuses a secrets provider the stack file does not name.
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { freePort } from "../support/freePort";
import { AS_NOBODY } from "../support/nobody";
import { runRunner } from "../support/runner";

const BASE = "auth:\n  enabled: true\n  api_keys: {}\nlogging:\n  level: info\n";
const KMS = path.join(__dirname, "..", "support", "fakeKms.py");
const SECRET_SIG = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
let e2e: E2EStack | undefined;
let kms: ReturnType<typeof spawn> | undefined;
let kmsDir: string | undefined;

afterEach(async () => {
  if (kms?.pid) process.kill(kms.pid);
  if (kmsDir) fs.rmSync(kmsDir, { recursive: true, force: true });
  await e2e?.cleanup();
});

/** A secret as the state stores it, under the fake key service's data key. */
function encrypt(value: string): Record<string, string> {
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv("aes-256-gcm", Buffer.alloc(32, "A"), nonce);
  const ct = Buffer.concat([c.update(JSON.stringify(value)), c.final(), c.getAuthTag()]);
  return { ...SECRET_SIG, ciphertext: `v1:${nonce.toString("base64")}:${ct.toString("base64")}` };
}

describe("a state naming a secrets provider of its own", () => {
  it("the runner's destroy refuses it, and runs nothing of the state writer's", async () => {
    e2e = await E2EStack.create({});
    const serverFile = path.join(e2e.dir, "api.yaml");
    fs.writeFileSync(serverFile, BASE, { mode: 0o600 });
    e2e.setConfig({ authConfigPath: serverFile, users: { alice: { role: "admin" } } });
    await e2e.up();
    // uid 65534's key service on loopback.
    kmsDir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-kms-"));
    fs.chmodSync(kmsDir, 0o755);
    fs.copyFileSync(KMS, path.join(kmsDir, "kms.py"));
    fs.chmodSync(path.join(kmsDir, "kms.py"), 0o644);
    const port = await freePort();
    kms = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), "/usr/bin/python3", path.join(kmsDir, "kms.py"), String(port)], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 1000));
    const marker = path.join(e2e.dir, "ran");
    const file = path.join(e2e.dir, "state", ".pulumi", "stacks", "fetchml-keys", `${e2e.name}.json`);
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    const latest = doc.checkpoint.latest;
    latest.secrets_providers = {
      type: "cloud",
      state: {
        url: `awskms://alias/x?region=us-east-1&endpoint=http://127.0.0.1:${port}`,
        encryptedkey: Buffer.from("k").toString("base64"),
      },
    };
    const resources: Array<Record<string, any>> = latest.resources;
    const write = resources.find((r) => String(r.urn).endsWith("::auth-config-write"))!;
    const request = {
      stack: `organization/fetchml-keys/${e2e.name}`,
      target: { kind: "local", configPath: serverFile, reloadCommand: `id -u > ${marker}` },
      entries: [],
      preserve: [],
      generation: null,
    };
    const injected = JSON.parse(JSON.stringify(write));
    for (const bag of [injected.inputs, injected.outputs]) {
      // Its other secrets (the step's stderr) are the attacker's too: empty.
      for (const [k, v] of Object.entries(bag)) if (v && typeof v === "object" && "ciphertext" in (v as object)) bag[k] = encrypt("");
      bag.stdin = encrypt(JSON.stringify(request));
    }
    // Whatever holds a passphrase secret cannot stay (it would not decrypt): the state writer keeps the rest.
    const plain = resources.filter((r) => r.type === "pulumi:pulumi:Stack" || !JSON.stringify(r).includes("ciphertext"));
    for (const r of plain) if (r.type === "pulumi:pulumi:Stack") r.outputs = {};
    latest.resources = [...plain, injected];
    // What the kept ones referred to among those dropped goes too (the engine checks the graph).
    const urns = new Set(latest.resources.map((r: any) => r.urn));
    const stackUrn = latest.resources.find((r: any) => r.type === "pulumi:pulumi:Stack").urn;
    for (const r of latest.resources) {
      if (r.parent && !urns.has(r.parent)) r.parent = stackUrn;
      if (r.dependencies) r.dependencies = r.dependencies.filter((u: string) => urns.has(u));
      if (r.propertyDependencies)
        for (const k of Object.keys(r.propertyDependencies))
          r.propertyDependencies[k] = r.propertyDependencies[k].filter((u: string) => urns.has(u));
      delete r.deletedWith;
    }
    fs.writeFileSync(file, JSON.stringify(doc, null, 4));
    const r = await runRunner(["destroy", "--yes", "--stack", e2e.name], {
      env: { ...e2e.env, AWS_ACCESS_KEY_ID: "AKIAADMIN", AWS_SECRET_ACCESS_KEY: "admin-secret", AWS_EC2_METADATA_DISABLED: "true" },
    });
    const ran = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim() : undefined;
    expect(ran, `the state writer's reload command ran (as uid ${ran}):\n${r.all}`).toBeUndefined();
    expect(r.code, r.all).toBe(1);
    expect(r.all).toContain('its secrets provider, cloud "awskms://alias/x?region=us-east-1');
    expect(r.all).toContain("is not the passphrase (the stack file names no other)");
  }, 300_000);
});
