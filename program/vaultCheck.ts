/**
 * The Bitwarden check, as a resource hook on every Bitwarden user's key: the engine runs it
 * before it creates or replaces such a key, whatever the reason (new user, counter, rotate-all,
 * age, `--replace`), and never in a preview or a run that changes no key. A locked or
 * logged-out vault then stops the run before any key changes. It runs once per run, however
 * many keys change.
 *
 * An up whose plan changes a Bitwarden user's key starts it as the program starts (start) if
 * bw's lock is free, beside the revocations rather than after them: the hook then finds it done
 * or under way, and still stops the run, before any key changes, if it failed.
 *
 * It checks by starting the run's one `bw serve` (steps/bitwarden/serve.ts, sharedServeDir),
 * which the vault step then joins: a rotation costs one `bw` process, not a check and a serve.
 * This program holds the bw lock for it, and stops it once the vault step is done (close), when
 * the runner's operation ends (closeVaultChecks), or, should this process end first, through
 * the serve's guard; the lock goes with the process.
 */
import * as pulumi from "@pulumi/pulumi";
import type { BitwardenSettings } from "../config/settings";
import { acquireSession, bwCommand, bwDataDir, checkUnlocked, takeBwLock, tryBwLock } from "../steps/bitwarden/bw";
import { BwServe, sharedServeDir } from "../steps/bitwarden/serve";
import { SafeError } from "../steps/io";

/** Every check of this process whose serve may still run (an inline program's runs share one process). */
const open = new Set<VaultCheck>();

export class VaultCheck {
  readonly hook: pulumi.ResourceHook;
  private checked: Promise<void> | undefined;
  /** start()'s attempt: true once it checked, false when another run held bw's lock then. */
  private early: Promise<boolean> | undefined;
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
    this.hook = new pulumi.ResourceHook("bitwarden-vault-check", () => (this.checked ??= this.fromHook()));
  }

  /**
   * Starts the check now if bw's lock is free; its outcome is the hook's, when the engine runs
   * it. While another run holds the lock, the hook waits for it instead: a program that fails
   * before any key changes then has nothing waiting on that lock.
   */
  start(): void {
    if (this.early || this.checked) return;
    this.early = this.check(false);
    // Not unhandled meanwhile: the hook awaits this same promise, and the engine reports its failure.
    this.early.catch(() => undefined);
  }

  private async fromHook(): Promise<void> {
    if (!(await (this.early ?? Promise.resolve(false)))) await this.check(true);
  }

  /** `wait`: for bw's lock, as long as takeBwLock does; else false at once while it is held. */
  private async check(wait: boolean): Promise<boolean> {
    const { cli, organizationId, itemPrefix } = this.settings;
    const bw = bwCommand(cli);
    open.add(this);
    const release = wait ? await takeBwLock(cli, process.env, this.ended.signal) : await tryBwLock(cli);
    if (!release) return false;
    try {
      if (this.ended.signal.aborted) throw new SafeError(String(this.ended.signal.reason));
      const session = await acquireSession(bw);
      const dir = sharedServeDir({ stack: this.stack, dataDir: bwDataDir(process.env, cli), organizationId, itemPrefix });
      if (!dir) {
        // Nowhere the step could find it: check with one short `bw status`, the step starts its own.
        await checkUnlocked(bw, session);
        release();
        return true;
      }
      const serve = await BwServe.startShared(bw, session, dir);
      this.held = { serve, release };
      if (this.ended.signal.aborted) throw new SafeError("the run ended while the vault check started bw serve");
      // A serve that dies on its own is stopped like one that was used: the lock goes only once it is gone.
      serve.onExit(() => void this.stop());
      await serve.assertUnlocked();
      return true;
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
    this.ended.abort("the run ended while the vault check waited for bw's lock");
    await this.early?.catch(() => undefined);
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
