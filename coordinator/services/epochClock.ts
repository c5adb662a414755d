/**
 * Epoch numbering. Epoch 1 starts at the pool's genesis (set once, at the
 * first start, aligned to the epoch length); epoch n covers
 * [genesis + (n-1)·length, genesis + n·length). Both are kept in the store:
 * changing the length later would renumber settled epochs, so it is refused.
 */
import type { MetaStore } from '../store/store.ts'

export class EpochClock {
  constructor(
    readonly genesisMs: number,
    readonly epochMs: number,
  ) {}

  static async open(store: MetaStore, epochMs: number, nowMs: number): Promise<EpochClock> {
    const storedLength = await store.getMeta('epochMs')
    if (storedLength !== undefined && Number(storedLength) !== epochMs) {
      throw new Error(`this pool settles epochs of ${storedLength} ms; refusing to start with --epoch ${epochMs} ms (it would renumber settled epochs)`)
    }
    let genesis = await store.getMeta('epochGenesisMs')
    if (genesis === undefined) {
      genesis = String(Math.floor(nowMs / epochMs) * epochMs)
      await store.setMeta('epochGenesisMs', genesis)
      await store.setMeta('epochMs', String(epochMs))
    }
    return new EpochClock(Number(genesis), epochMs)
  }

  epochOf(atMs: number): number {
    return Math.max(1, Math.floor((atMs - this.genesisMs) / this.epochMs) + 1)
  }

  bounds(epoch: number): { startMs: number; endMs: number } {
    const startMs = this.genesisMs + (epoch - 1) * this.epochMs
    return { startMs, endMs: startMs + this.epochMs }
  }
}
