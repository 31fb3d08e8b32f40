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
  const errors: ErrorDiagnostic[] = [];
  let failure: unknown;
  try {
    await stack.preview({
      ...options,
      onEvent: (event: EngineEvent) => {
        if (event.resourcePreEvent) steps.push(event.resourcePreEvent.metadata as StepEvent);
        const d = event.diagnosticEvent;
        if (d && (d.severity === "info" || d.severity === "warning")) diagnostics.push(d.message);
        if (d?.severity === "error") errors.push({ message: d.message.trim(), urn: d.urn });
      },
    });
  } catch (e) {
    failure = e;
  }
  const lines = summarizeAccess(diagnostics, steps, declaredUsers(stack.name));
  if (failure !== undefined) {
    const refused = refusalIn(errors);
    if (refused === undefined) throw failure;
    return { lines, refused };
  }
  return { lines };
}

export interface ErrorDiagnostic {
  message: string;
  /** The resource it is about; none for the program's own. */
  urn?: string;
}

/**
 * The program's refusal among a failed preview's errors: the message of a RunError, which
 * @pulumi/pulumi's `cmd/run` logs bare, with no resource. Anything else is not a refusal and
 * must not read as one: a crash of the program (logged by `cmd/run` as "Running program '...'
 * failed with an unhandled exception"), a resource's own error, the engine's closing line.
 */
export function refusalIn(errors: readonly ErrorDiagnostic[]): string | undefined {
  return errors.find(
    (e) =>
      !e.urn &&
      !/^Running program '.*' failed with an unhandled exception/s.test(e.message) &&
      !/^(preview|update) failed/i.test(e.message),
  )?.message;
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
