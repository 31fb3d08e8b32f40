/**
 * A path Linux can open, as a zod field: at most 4095 bytes, 255 for each name in it, nothing
 * unprintable (lib/printable.ts). Longer
 * ones would only fail later, deep in a read, as ENAMETOOLONG; checked with the rest of stack
 * config, they are named with every other problem. Shared by the target's schema
 * (targets/spec.ts) and stack config's other paths (config/settings.ts).
 */
import { z } from "zod";
import { printable, UNPRINTABLE_RULE } from "./printable";

export const linuxPath = z
  .string()
  .min(1)
  .refine((p) => Buffer.byteLength(p) <= 4095 && p.split("/").every((name) => Buffer.byteLength(name) <= 255), {
    error: "is too long for a path (at most 4095 bytes, and 255 for each name in it)",
  })
  // Paths are printed in the plan (lib/printable.ts); no file a server reads is named so.
  .refine(printable, { error: UNPRINTABLE_RULE });
