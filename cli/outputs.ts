/**
 * Stack outputs for a person: one output, or one user's value in it ("mlConfigs ben",
 * "mlConfigs.ben"), with a clear error for a name that is not there, and the `users` output as
 * a table (never a key: that output holds none). Pure.
 */
import { z } from "zod";
import { keyAgeDays } from "../lib/keyPlan";
import { CommandError } from "./commandError";
import { type PreviousUser, previousUser } from "../program/outputs";

export class OutputError extends CommandError {}

export interface StackOutput {
  value: unknown;
  secret: boolean;
}

/** The value at `path` ("name", or "name key", or "name.key"), with whether it is secret. */
export function pickOutput(outputs: Record<string, StackOutput>, path: string[]): StackOutput {
  const [name, ...rest] = path.flatMap((p) => p.split("."));
  if (!Object.hasOwn(outputs, name)) throw new OutputError(`no output "${name}" (outputs: ${Object.keys(outputs).sort().join(", ")})`);
  let value = outputs[name].value;
  const walked = [name];
  while (rest.length > 0) {
    // A user name may hold dots (j.doe): the longest run of the parts left that is a key wins.
    const here = value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
    const take = here
      ? [...rest.keys()].map((i) => rest.length - i).find((n) => Object.hasOwn(here, rest.slice(0, n).join(".")))
      : undefined;
    if (!here || take === undefined) {
      throw new OutputError(
        `${walked.join(".")} has no "${rest.join(".")}" (it has: ${here ? Object.keys(here).sort().join(", ") : "nothing"})`,
      );
    }
    const key = rest.splice(0, take).join(".");
    value = here[key];
    walked.push(key);
  }
  return { value, secret: outputs[name].secret };
}

const usersOutput = z.record(z.string(), previousUser);

/**
 * The `users` output as the program recorded it (program/outputs.ts, read as the next run
 * reads it: a field missing shows as "-"); none yet is no users.
 */
export function readUsersOutput(value: unknown): Record<string, PreviousUser> {
  const parsed = usersOutput.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const where = parsed.error.issues.map((i) => ["users", ...i.path].join(".")).join(", ");
  throw new OutputError(`the users output is not of the shape this version records (at ${where}); an \`up\` records it again`);
}

/** `user list`: one line per user, columns aligned. */
export function usersTable(users: Record<string, PreviousUser>, now: Date): string[] {
  const rows = Object.keys(users)
    .sort()
    .map((name) => {
      const u = users[name];
      const age = u.issuedAt ? `${Math.floor(keyAgeDays(u.issuedAt, now))}d${u.maxKeyAgeDays ? ` of ${u.maxKeyAgeDays}` : ""}` : "-";
      return [name, u.role ?? "-", u.delivery ?? "-", u.status ?? "-", u.issuedAt ?? "-", age, u.fingerprint ?? "-"];
    });
  const header = ["USER", "ROLE", "DELIVERY", "STATUS", "ISSUED", "KEY AGE", "FINGERPRINT"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]))
      .join("  ")
      .trimEnd(),
  );
}
