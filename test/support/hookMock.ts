/**
 * @pulumi/pulumi with a ResourceHook that keeps its callback, for unit tests that run a hook as
 * the engine would, outside any engine (runCheck in test/support/bitwarden/fakeServe.ts):
 *
 *   vi.mock("@pulumi/pulumi", async (original) => (await import("../../support/hookMock")).withCallableHooks(await original()));
 */
export function withCallableHooks<T extends object>(actual: T): T {
  class ResourceHook {
    constructor(
      readonly name: string,
      readonly callback: () => Promise<void>,
    ) {}
  }
  return { ...actual, ResourceHook };
}
