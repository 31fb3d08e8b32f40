/**
 * Previews a stack and returns the access summary (lib/accessSummary.ts): the plan the program
 * printed, from the engine's structured events rather than its text, and, when the program
 * refused the run (the mass-revocation guard, another stack's file), why. Shared by the
 * runner's `summary` command and the end-to-end tests.
 */
import * as fs from "node:fs";
import type { EngineEvent, PreviewOptions, Stack } from "@pulumi/pulumi/automation";
import { type StepEvent, summarizeAccess } from "../lib/accessSummary";
import { settingsOf } from "../lib/stackFile";
import { stackFilePath } from "./workspace";

export interface AccessPreview {
  lines: string[];
  /** The program's refusal, if the preview failed with one. */
  refused?: string;
}

export async function previewAccess(stack: Stack, options: PreviewOptions = {}): Promise<AccessPreview> {
  const steps: StepEvent[] = [];
  const diagnostics: string[] = [];
  const errors: string[] = [];
  let failure: unknown;
  try {
    await stack.preview({
      ...options,
      onEvent: (event: EngineEvent) => {
        if (event.resourcePreEvent) steps.push(event.resourcePreEvent.metadata as StepEvent);
        const d = event.diagnosticEvent;
        if (d && (d.severity === "info" || d.severity === "warning")) diagnostics.push(d.message);
        if (d?.severity === "error") errors.push(d.message.trim());
      },
    });
  } catch (e) {
    failure = e;
  }
  const lines = summarizeAccess(diagnostics, steps, declaredUsers(stack.name));
  if (failure !== undefined) {
    // The program said why (RunError): report that; any other failure is not a refusal.
    const refused = errors.find((m) => !/^preview failed|^update failed/i.test(m));
    if (!refused) throw failure;
    return { lines, refused };
  }
  return { lines };
}

/**
 * The users the stack file declares, read as the program reads them; none when it cannot be
 * read or is not valid (the preview then refused, and says why).
 */
function declaredUsers(stackName: string): string[] {
  try {
    return settingsOf(fs.readFileSync(stackFilePath(stackName), "utf8")).users.map((user) => user.name);
  } catch {
    return [];
  }
}

/** The summary as a person reads it: a line per change (or, unless refused, that there is none), then any refusal. */
export function printAccess(access: AccessPreview): void {
  // A refused run has no plan to be empty: "no access changes" before "refused" reads as all clear.
  if (access.lines.length > 0) console.log(access.lines.join("\n"));
  else if (!access.refused) console.log("no access changes");
  if (access.refused) console.log(`refused: ${access.refused}`);
}
