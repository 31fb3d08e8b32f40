/**
 * The Bitwarden check, as a resource hook on every Bitwarden user's key: the engine runs it
 * before it creates or replaces such a key, whatever the reason (new user, counter, rotate-all,
 * age, `--replace`), and never in a preview or a run that changes no key. A locked or
 * logged-out vault then stops the run before any key changes. It runs once per run, however
 * many keys change.
 *
 * It checks by starting the run's one `bw serve` (steps/bitwarden/serve.ts, sharedServeDir),
 * which the vault step then joins: a rotation costs one `bw` process, not a check and a serve.
 * This program holds the bw lock for it, and stops it once the vault step is done (close), when
 * the runner's operation ends (closeVaultChecks), or, should this process end first, through
 * the serve's guard; the lock goes with the process.
 */
import * as pulumi from "@pulumi/pulumi";
import type { BitwardenSettings } from "../config/settings";
import { acquireSession, bwCommand, bwDataDir, checkUnlocked, takeBwLock } from "../steps/bitwarden/bw";
import { BwServe, sharedServeDir } from "../steps/bitwarden/serve";
import { SafeError } from "../steps/io";

/** Every check of this process whose serve may still run (an inline program's runs share one process). */
const open = new Set<VaultCheck>();

export class VaultCheck {
  readonly hook: pulumi.ResourceHook;
  private checked: Promise<void> | undefined;
  private held: { serve: BwServe; release: () => void } | undefined;
  /** The stop under way: every caller waits for the same one. */
  private stopping: Promise<void> | undefined;
  /** Aborted by close(): a check still waiting for the lock gives up, one starting its serve stops it. */
  private readonly ended = new AbortController();

  /** `stack`: `<organization>/<project>/<stack>`, as the vault step's request names it. */
  constructor(
    private readonly stack: string,
    private readonly settings: BitwardenSettings,
  ) {
    this.hook = new pulumi.ResourceHook("bitwarden-vault-check", () => (this.checked ??= this.check()));
  }

  private async check(): Promise<void> {
    const { cli, organizationId, itemPrefix } = this.settings;
    const bw = bwCommand(cli);
    open.add(this);
    const release = await takeBwLock(cli, process.env, this.ended.signal);
    try {
      if (this.ended.signal.aborted) throw new SafeError(String(this.ended.signal.reason));
      const session = await acquireSession(bw);
      const dir = sharedServeDir({ stack: this.stack, dataDir: bwDataDir(process.env, cli), organizationId, itemPrefix });
      if (!dir) {
        // Nowhere the step could find it: check with one short `bw status`, the step starts its own.
        await checkUnlocked(bw, session);
        release();
        return;
      }
      const serve = await BwServe.startShared(bw, session, dir);
      this.held = { serve, release };
      if (this.ended.signal.aborted) throw new SafeError("the run ended while the vault check started bw serve");
      // A serve that dies on its own is stopped like one that was used: the lock goes only once it is gone.
      serve.onExit(() => void this.stop());
      await serve.assertUnlocked();
    } catch (e) {
      await this.stop();
      release();
      throw e;
    }
  }

  /**
   * Stops the serve this check started, if any, and then releases the bw lock; never throws.
   * A check still under way is waited for (it stops what it started as it ends).
   */
  async close(): Promise<void> {
    this.ended.abort("the run ended first");
    await this.checked?.catch(() => undefined);
    await this.stop();
    open.delete(this);
  }

  /** Stops the serve and then releases the lock; a second caller waits for the stop under way. */
  private stop(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (held) {
      this.stopping = (async () => {
        await held.serve.close().catch(() => undefined);
        held.release();
      })();
    }
    return this.stopping ?? Promise.resolve();
  }
}

/** Stops every check's serve in this process: the runner calls it when an operation ends. */
export async function closeVaultChecks(): Promise<void> {
  await Promise.all([...open].map((check) => check.close()));
}
