/**
 * Previews a stack and returns the access summary lines (lib/accessSummary.ts), from the
 * engine's structured events rather than its text. Shared by the runner's `summary`
 * command and the end-to-end tests.
 */
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { type StepEvent, summarizeAccess } from "../lib/accessSummary";

export async function previewAccess(stack: Stack, onOutput?: (text: string) => void): Promise<string[]> {
  const steps: StepEvent[] = [];
  const warnings: string[] = [];
  await stack.preview({
    onOutput,
    onEvent: (event: EngineEvent) => {
      if (event.resourcePreEvent) steps.push(event.resourcePreEvent.metadata as StepEvent);
      if (event.diagnosticEvent?.severity === "warning") warnings.push(event.diagnosticEvent.message.trim());
    },
  });
  return summarizeAccess(steps, [...new Set(warnings)]);
}
