/** The runner's command line: its usage text, and the command, arguments and options it names, refused before any work when wrong. */
import { parseOptions } from "./options";
import { userArgsProblem } from "./user";

export const USAGE = `usage: fetchml-keys <command> [options]

commands:
  preview                 show what an up would change
  summary                 who gains, loses or changes access in the next up (plain lines)
  up                      apply the stack config (asks first unless --yes)
  destroy                 remove this stack's entries, files and keys (asks first unless --yes)
  refresh                 read the state back, then say where targets differ from stack config
                          (and the vault from what the last run wrote there)
  cancel                  release the lock of an up that was killed
  output [name [key]]     print stack outputs (secrets masked unless --show-secrets)
  user list               who has which access and key, since when (never a key)
  user add NAME [--role R] [--delivery direct|bitwarden]
                          (without --role: the stack's defaults.role)
  user rotate|suspend|resume|remove NAME
                          edit the stack file, show the access summary, then up (asks first
                          unless --yes; --no-up only edits and previews)
  user handover NAME [--out FILE] [--force]
                          one user's ~/.ml/config.toml: to a new 0600 file, or once to a terminal
  stacks                  the stacks here, and which one is selected
  init NAME               create a stack (its file stacks/Pulumi.NAME.yaml, its encryption salt)
  help                    this text

options:
  --stack, -s NAME        stack to use (default: the one \`pulumi stack select\` chose, else dev)
  --yes, -y               do not ask before up, destroy or a user change
  --diff                  show property-level diffs
  --target URN            limit the operation to this resource (repeatable)
  --replace URN           force replacement of this resource, e.g. one user's key (repeatable)
  --expect-no-changes     fail if the operation would change anything (CI drift check)
  --allow-mass-revocation let this up revoke more than maxRevokedPercent of a target's key holders
  --show-secrets          with output: print secret values
  --json                  with output, summary, user list: print JSON`;

/** Commands and how many positional arguments each takes (min, max). */
const COMMANDS: Record<string, [number, number]> = {
  preview: [0, 0],
  summary: [0, 0],
  up: [0, 0],
  destroy: [0, 0],
  refresh: [0, 0],
  cancel: [0, 0],
  output: [0, 2],
  user: [1, 2],
  stacks: [0, 0],
  init: [1, 1],
  help: [0, 0],
};

/** A command line the runner cannot run: said with where to find the commands, exit 2. */
export class UsageError extends Error {}

export function parseCommandLine(argv: string[]) {
  let parsed;
  try {
    parsed = parseOptions(argv);
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0].replace(/^Unknown option '([^']*)'.*$/, "unknown option $1"));
  }
  const [command = "help", ...args] = parsed.positionals;
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command "${command}"`);
  const [min, max] = COMMANDS[command];
  if (args.length < min || args.length > max) {
    throw new UsageError(args.length > max ? `${command}: unexpected "${args.slice(max).join(" ")}"` : `${command}: missing an argument`);
  }
  const userProblem = command === "user" ? userArgsProblem(args) : undefined;
  if (userProblem) throw new UsageError(userProblem);
  return { command: parsed.values.help ? "help" : command, args, options: parsed.values };
}
