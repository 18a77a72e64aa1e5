/**
 * The sleep of a polling loop that work can cut short: `sleep(ms)` resolves after `ms` or at the next
 * `poke()`, whichever comes first; a poke while the loop is awake makes its next sleep return at once, so a
 * wake-up is never lost between two sleeps.
 */
export class WakeUp {
  private wake?: () => void;
  private woken = false;

  poke(): void {
    if (this.wake) this.wake();
    else this.woken = true;
  }

  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
