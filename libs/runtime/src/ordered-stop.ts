/**
 * The shutdown of one stage of a pipeline: Nest runs the `beforeApplicationShutdown` hooks of one module's
 * providers concurrently, so a stage that may still be handed work waits for the stage upstream of it
 * (`after`) before it halts. `run()` is idempotent: its hook and the stage downstream wait for the same stop.
 * A failed upstream stop is reported by whoever else awaits it (its own hook); this stage halts regardless.
 */
export class OrderedStop {
  private upstream: () => Promise<void> = () => Promise.resolve();
  private stopping?: Promise<void>;

  constructor(private readonly halt: () => Promise<void>) {}

  after(upstream: () => Promise<void>): void {
    this.upstream = upstream;
  }

  run(): Promise<void> {
    return (this.stopping ??= this.upstream()
      .catch(() => undefined)
      .then(() => this.halt()));
  }
}
