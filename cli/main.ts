/**
 * The runner: `fetchml-keys <command> [options]` (npm run -s keys -- ..., or bin/fetchml-keys).
 * Runs the same program as `pulumi up` through the Automation API, streams the engine's
 * output, shows the engine's own message when something fails (and for known failures the
 * command to run next), and exits non-zero on failure, so it works where no Node.js language
 * host or provider plugins can be installed (see README, "How it runs").
 *
 * The command line is read in commandLine.ts, the stack chosen and opened in stacks.ts, and
 * the commands on it run in stackCommands.ts; this file runs one and says how it ended.
 */
import { CommandError } from "./commandError";
import { UsageError, USAGE, parseCommandLine } from "./commandLine";
import { explainFailure } from "./errors";
import { humanOutput } from "./humanOutput";
import { isolationWarning } from "./isolation";
import { checkReplaceTargets, runStackCommand } from "./stackCommands";
import { assertStackName, checkStackFile, defaultStack, existingStack, stacksCommand } from "./stacks";

async function main(argv: string[]): Promise<number> {
  const { command, args, options } = parseCommandLine(argv);
  if (command === "help") {
    console.log(USAGE);
    return 0;
  }
  const warning = isolationWarning();
  if (warning) console.error(warning);
  const stream = humanOutput((s) => process.stdout.write(s));
  if (command === "stacks" || command === "init") {
    try {
      return await stacksCommand(command, args);
    } catch (e) {
      if (e instanceof CommandError) throw e;
      printFailure(e, command === "init" ? args[0] : "?");
      return 1;
    }
  }
  if (options.stack !== undefined) assertStackName(options.stack, "--stack");
  const stackName = options.stack ?? (await defaultStack());
  // For this run only: the program then lets an up revoke more than maxRevokedPercent.
  if (options["allow-mass-revocation"]) process.env.FETCHML_KEYS_ALLOW_MASS_REVOCATION = "1";
  // A command that would change something asks first; outside a terminal, say so before any work.
  const asks = (["up", "destroy"].includes(command) || (command === "user" && !["list", "handover"].includes(args[0]))) && !options.yes;
  if (asks && !options["no-up"] && !process.stdin.isTTY) {
    console.error("fetchml-keys: not a terminal, so nothing can be confirmed; pass --yes to apply without asking");
    return 1;
  }
  // Read the way the program reads it, before the engine: a bad stack file is said once, by
  // its path, rather than inside the engine's framing of a failed run (counts, "1 errored").
  if (["preview", "up", "summary", "refresh"].includes(command)) checkStackFile(stackName);
  const stack = await existingStack(stackName);
  const opened = stack.opened;
  console.error(
    `fetchml-keys: stack ${stackName}; engine pulumi ${opened.engine.version}; plugins ${opened.plugins.map((p) => `${p.name} (${p.source})`).join(", ")}`,
  );
  const common = {
    onOutput: stream.onOutput,
    color: "auto" as const,
    diff: options.diff,
    target: options.target,
    expectNoChanges: options["expect-no-changes"],
  };
  if (options.replace?.length) await checkReplaceTargets(opened.stack, stackName, options.replace);
  try {
    return await runStackCommand(command, args, options, stack.opened.stack, stackName, common);
  } catch (e) {
    stream.flush();
    if (e instanceof CommandError) throw e;
    printFailure(e, stackName, stream.shown);
    return 1;
  } finally {
    stream.flush();
  }
}

/** The engine's own message, once (not again where the streamed output showed it), and what to run next. */
function printFailure(e: unknown, stackName: string, shown: ReadonlySet<string> = new Set()): void {
  const explained = explainFailure((e as Error)?.message ?? String(e), stackName);
  for (const line of explained.errors) if (!shown.has(line.split("\n")[0])) console.error(`fetchml-keys: ${line}`);
  if (explained.hint) console.error(`fetchml-keys: next: ${explained.hint}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`fetchml-keys: ${e.message} (commands and options: fetchml-keys help)`);
      process.exit(2);
    }
    if (e instanceof CommandError) {
      console.error(`fetchml-keys: ${e.message}`);
      process.exit(1);
    }
    printFailure(e, "?");
    process.exit(1);
  },
);
