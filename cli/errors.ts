/**
 * What went wrong, for the admin: the engine's own error lines out of an Automation API
 * failure (its message starts "code: -2" and buries them in stderr), once each, and for the
 * failures an admin meets, the command to run next. Pure.
 */
import { stackFileName } from "../config/rawConfig";

export interface Explained {
  /** The engine's error lines, without its "error: " prefix, once each. */
  errors: string[];
  /** What to run next, when the failure is a known one. */
  hint?: string;
}

const HINTS: Array<[RegExp, (stack: string) => string]> = [
  [
    /incorrect passphrase|passphrase must be set|PULUMI_CONFIG_PASSPHRASE/i,
    (stack) => `set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to stack ${stack}'s passphrase, then run it again`,
  ],
  [
    /the stack is currently locked/i,
    (stack) =>
      `if no other run of stack ${stack} is going on (a killed one leaves the lock), release it: npm run -s keys -- cancel --stack ${stack}`,
  ],
  // A move is counted as every entry leaving the old file: the override must follow a check of
  // the path, never be the first thing said (a typo'd path would get every entry).
  [
    /refusing to take access from more than.*the target moves/i,
    (stack) =>
      `check the path in ${stackFileName(stack)}: it must name the file FetchML reads. ` +
      "Only once FetchML reads the new file (a copy of the old one), run it again with --allow-mass-revocation",
  ],
  [/refusing to take access from more than/i, () => "if that is what you mean, run it again with --allow-mass-revocation"],
  [
    /the reload is owed until an up runs it again/,
    (stack) => `fix what the reload command said, then retry the reload: npm run -s keys -- up --stack ${stack}`,
  ],
  [/the Bitwarden vault is not unlocked/i, () => 'export BW_SESSION="$(npm run -s bw -- unlock --raw)" and run it again'],
  [/no stack named|stack .* not found/i, () => "list the stacks with: npm run -s keys -- stacks"],
];

export function explainFailure(message: string, stack: string): Explained {
  const errors: string[] = [];
  const lines = message.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*error: (.*)$/.exec(lines[i]);
    if (!m) continue;
    // An error's details follow it, indented (a lock's holder: who, where, since when).
    const details: string[] = [];
    while (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1]) && !/^\s*(error|stdout|stderr|err\?):/.test(lines[i + 1])) {
      details.push(`  ${lines[++i].trim()}`);
    }
    const line = [m[1].trim(), ...details].join("\n");
    // The engine's closing summary says nothing the lines before it did not.
    if (/^(update|preview|refresh|destroy) failed$/.test(line) || errors.includes(line)) continue;
    errors.push(line);
  }
  if (errors.length === 0) {
    const first = message.split("\n").find((l) => l.trim() && !/^code: |^ ?(stdout|stderr|err\?):\s*$/.test(l.trim()));
    if (first) errors.push(first.trim());
  }
  const hint = HINTS.find(([pattern]) => errors.some((e) => pattern.test(e)))?.[1](stack);
  return hint ? { errors, hint } : { errors };
}
