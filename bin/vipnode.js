#!/usr/bin/env -S node --max-semi-space-size=64
// Entry point for the `vipnode` executable. The project runs its TypeScript
// sources directly through tsx's loader, so a fresh checkout needs only `npm ci`.
// A 64 MB young generation: a busy coordinator allocates per report, and the
// default 16 MB promoted those short-lived objects into costly major GCs
// (bench/agentLoad.ts: p99 ack 248 -> 120 ms at 5,000 reports/s). It must be a
// node flag: V8 reads it only when the heap is set up.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./main.ts')
await main(process.argv)
