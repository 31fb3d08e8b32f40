/**
 * Stacks made before fetchml-keys 0.2 keep these command strings in their state:
 * `node_modules/.bin/tsx writers/<name>.ts <mode>`. A command's delete runs the string stored
 * in state, so a `destroy` of such a stack, or the first `up` after upgrading (which deletes the
 * old per-user delivery resources), still runs them. Only their delete modes can still be
 * reached; each maps the old request onto today's step, or leaves alone what today's steps
 * have taken over.
 */
import * as path from "node:path";
import { authRemove } from "../steps/auth";
import { readManifest } from "../steps/delivery";
import { readRequest, safeMessage } from "../steps/io";
import { authWriteRequest, vaultRequest } from "../steps/protocol";
import { vaultStep } from "../steps/vault";
import { removeFile } from "../lib/atomicFile";
import { z } from "zod";

const legacyAuthRequest = z.object({
  target: z.unknown().optional(),
  path: z.string().optional(),
  entries: z.record(z.string(), z.unknown()),
  preserve: z.array(z.string()).optional(),
});

export function runLegacy(script: "write-auth-config" | "write-secret-file" | "bitwarden-vault"): void {
  const mode = process.argv[2] ?? "";
  main(script, mode).catch((e: unknown) => {
    process.stderr.write(`${script}: ${safeMessage(e)}\n`);
    process.exit(1);
  });
}

async function main(script: string, mode: string): Promise<void> {
  if (mode !== "remove") {
    throw new Error(`this command was stored by fetchml-keys before 0.2 and only its delete still runs; run up with this version first`);
  }
  if (script === "write-auth-config") {
    const old = await readRequest(legacyAuthRequest);
    // Today's spec names the fields as stack config does (path -> configPath, reload -> reloadCommand).
    const raw = (old.target ?? { kind: "local", path: old.path }) as Record<string, unknown>;
    const { path: configPath, reload: reloadCommand, ...rest } = raw;
    const target = { ...rest, configPath, ...(reloadCommand === undefined ? {} : { reloadCommand }) };
    // Old requests name no stack and old steps printed no writer id: a target that has a
    // record is now written by today's step and is left alone; one without is the old kind.
    const request = authWriteRequest.parse({
      stack: "(before 0.2)",
      target,
      entries: Object.entries(old.entries),
      preserve: old.preserve ?? [],
      generation: "0",
    });
    return authRemove(request, undefined);
  }
  if (script === "write-secret-file") {
    const old = await readRequest(z.object({ path: z.string(), content: z.string() }));
    const file = path.resolve(old.path);
    // Old resources stream stdout (their stored `logging`), so this one speaks there.
    const tell = (line: string): void => void process.stdout.write(`${line}\n`);
    if (readManifest(path.dirname(file)).includes(path.basename(file)))
      return tell(`${file}: now kept by the delivery step; left in place`);
    tell(removeFile(file) ? `removed ${file}` : `${file} already absent`);
    return;
  }
  const request = await readRequest(vaultRequest);
  const result = await vaultStep(request, "remove", process.env.PULUMI_COMMAND_STDOUT);
  process.stdout.write(JSON.stringify(result) + "\n");
}
