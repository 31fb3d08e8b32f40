/**
 * The runner: `fetchml-keys <preview|up|destroy|refresh|cancel|output> [--stack dev]`.
 * Runs the same program as `pulumi up` through the Automation API, streams the engine's
 * output, and exits non-zero on failure, so it works where no Node.js language host or
 * provider plugins can be installed (see README, "How it runs").
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline/promises";
import { parseArgs } from "node:util";
import { PROJECT_ROOT } from "./paths";
import { previewAccess } from "./summary";
import { openStack, UP_OPTIONS } from "./workspace";

const USAGE = `usage: fetchml-keys <command> [options]

commands:
  preview              show what an up would change
  summary              who gains, loses or changes access in the next up (plain lines)
  up                   apply the stack config (asks first unless --yes)
  destroy              remove this stack's entries, files and keys (asks first unless --yes)
  refresh              read the state back, then say where targets differ from stack config
  cancel               release the lock of an up that was killed
  output [name]        print stack outputs (secrets masked unless --show-secrets)

options:
  --stack, -s NAME     stack to use (default: dev)
  --yes, -y            do not ask before up or destroy
  --diff               show property-level diffs
  --target URN         limit the operation to this resource (repeatable)
  --replace URN        force replacement of this resource, e.g. one user's key (repeatable)
  --expect-no-changes  fail if the operation would change anything (CI drift check)
  --allow-mass-revocation
                       let this up revoke more than maxRevokedPercent of the active users
  --show-secrets       with output: print secret values
  --json               with output: print JSON`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stack: { type: "string", short: "s", default: "dev" },
      yes: { type: "boolean", short: "y", default: false },
      diff: { type: "boolean", default: false },
      target: { type: "string", multiple: true },
      replace: { type: "string", multiple: true },
      "expect-no-changes": { type: "boolean", default: false },
      "allow-mass-revocation": { type: "boolean", default: false },
      "show-secrets": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const stackName = values.stack!;
  // For this run only: the guard then lets an up revoke more than maxRevokedPercent of users.
  if (values["allow-mass-revocation"]) process.env.FETCHML_KEYS_ALLOW_MASS_REVOCATION = "1";
  if (stackName === "dev") prepareDevStack();
  const opened = await openStack({ stackName });
  const { stack, engine, plugins } = opened;
  console.error(`fetchml-keys: stack ${stackName}; engine pulumi ${engine.version} (${engine.binary})`);
  console.error(`fetchml-keys: plugins ${plugins.map((p) => `${p.name} v${p.version} (${p.source})`).join(", ")}`);
  const stream = { onOutput: (s: string) => process.stdout.write(s), color: "auto" as const };
  const common = {
    ...stream,
    diff: values.diff,
    target: values.target,
    expectNoChanges: values["expect-no-changes"],
  };

  switch (command) {
    case "preview":
      await stack.preview({ ...common, replace: values.replace });
      return 0;
    case "up":
    case "destroy": {
      if (!values.yes) {
        if (command === "up") await stack.preview({ ...common, replace: values.replace });
        else await stack.destroy({ ...stream, target: values.target, previewOnly: true });
        if (!(await confirm(`Perform this ${command === "up" ? "update" : "destroy"} on stack ${stackName}?`))) {
          console.error("fetchml-keys: not confirmed; nothing changed");
          return 1;
        }
      }
      if (command === "up") await stack.up({ ...UP_OPTIONS, ...common, replace: values.replace });
      else await stack.destroy({ ...stream, target: values.target });
      return 0;
    }
    case "summary": {
      const access = await previewAccess(stack, { replace: values.replace, ...(values.diff ? { onOutput: stream.onOutput } : {}) });
      console.log(access.lines.length > 0 ? access.lines.join("\n") : "no access changes");
      if (access.refused) {
        console.log(`refused: ${access.refused}`);
        return 1;
      }
      return 0;
    }
    case "refresh": {
      await stack.refresh({ ...stream, expectNoChanges: values["expect-no-changes"] });
      // A command resource cannot be read back, so refresh alone never sees a hand edit on a
      // target; the program's own reading of every target does (a preview, changing nothing).
      const access = await previewAccess(stack);
      const drift = access.lines.filter((line) => !line.startsWith("!"));
      console.log(
        access.lines.length > 0 ? `targets and stack config differ:\n${access.lines.join("\n")}` : "targets are as stack config says",
      );
      return values["expect-no-changes"] && (drift.length > 0 || access.refused) ? 1 : 0;
    }
    case "cancel":
      await stack.cancel();
      console.error(`fetchml-keys: released the lock on stack ${stackName}`);
      return 0;
    case "output": {
      const outputs = await stack.outputs();
      const shown = Object.fromEntries(
        Object.entries(outputs)
          .filter(([name]) => rest.length === 0 || rest.includes(name))
          .map(([name, o]) => [name, o.secret && !values["show-secrets"] ? "[secret]" : o.value]),
      );
      const single = rest.length === 1 ? shown[rest[0]] : shown;
      console.log(values.json || typeof single !== "string" ? JSON.stringify(single, null, 2) : single);
      return 0;
    }
    default:
      console.error(`fetchml-keys: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

/**
 * The demo stack's merge target is a copy of the example server config (comments and
 * other settings included), made on first use so the tracked example never holds hashes.
 */
function prepareDevStack(): void {
  const target = path.join(PROJECT_ROOT, "examples", "out", "fetchml-server.yaml");
  if (fs.existsSync(target)) return;
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  fs.copyFileSync(path.join(PROJECT_ROOT, "examples", "fetchml-server.yaml"), target);
  fs.chmodSync(target, 0o600);
  console.error(`fetchml-keys: dev stack: copied examples/fetchml-server.yaml to ${path.relative(PROJECT_ROOT, target)}`);
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    console.error("fetchml-keys: not a terminal; pass --yes to apply without asking");
    return false;
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // The engine's own output (already streamed) says what failed; add only a summary line.
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
    console.error(`fetchml-keys: failed: ${message}`);
    process.exit(1);
  },
);
