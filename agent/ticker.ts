/** A loop timer that can be woken early (e.g. to report right after reconnecting) or stopped. */
export class Ticker {
  private wake: (() => void) | undefined
  private kicked = false

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => this.wake?.(), { once: true })
  }

  /** Wait `ms`, or less if kicked or aborted. */
  wait(ms: number): Promise<void> {
    if (this.kicked || this.signal.aborted) {
      this.kicked = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(timer)
        self.wake = undefined
        resolve()
      }
      this.wake = done
    })
  }

  kick(): void {
    if (this.wake) this.wake()
    else this.kicked = true
  }
}
