#!/usr/bin/env node
// Entry point for the `vipnode` executable. The project runs its TypeScript
// sources directly through tsx's loader, so a fresh checkout needs only `npm ci`.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./main.ts')
await main(process.argv)
