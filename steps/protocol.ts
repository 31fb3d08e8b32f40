/**
 * What every step shares with the components that run it (components/step.ts): the step names,
 * fixed in every stack's state, and how a step's printed result is read back. Each step's own
 * request and result schemas live beside the code that parses them (steps/auth.ts,
 * steps/vault.ts, steps/delivery.ts): a component builds its request with that type, the step
 * checks stdin against the same schema. Names-to-things maps travel as [name, value] pairs, so
 * any username is plain data.
 */
import { z } from "zod";

export const STEPS = [
  "auth-revoke",
  "auth-write",
  "auth-remove",
  "vault-write",
  "vault-remove",
  "delivery-write",
  "delivery-remove",
] as const;
export type StepName = (typeof STEPS)[number];

/** A username, an item name, a writer id: any non-empty text, carried as data. */
export const plainName = z.string().min(1);

/** A stack's whole name as the program says it (org/project/stack): one line, written into files as is. */
export const STACK_NAME = /^[A-Za-z0-9._-]{1,100}(\/[A-Za-z0-9._-]{1,100}){2}$/;
/** The stack a step acts for: the owner it records beside a target or in a delivery directory. */
export const stackName = z.string().regex(STACK_NAME);

/** A step's result as printed (its stdout, or PULUMI_COMMAND_STDOUT), or undefined when there is none or it is another shape. */
export function previousResult<T>(schema: z.ZodType<T>, stdout: string | undefined): T | undefined {
  if (!stdout) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(stdout));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
