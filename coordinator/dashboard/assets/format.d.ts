// Types for format.js, which the browser loads as-is and the server imports.
export declare function groupDigits(digits: string): string
export declare function formatUnits(amount: bigint | string | number, decimals: number, maxFraction?: number): string
export declare function unitFor(wei: bigint | string): { name: 'ETH' | 'gwei' | 'wei'; decimals: number }
export declare function formatWei(wei: bigint | string): string
export declare function exactWei(wei: bigint | string): string
export declare function toUnitNumber(wei: bigint | string, decimals: number): number
export declare function formatDuration(ms: number): string
export declare function formatHours(ms: number): string
export declare function shortId(id: string): string
export declare function networkName(chainId: number): string
export declare function explainUnitCosts(costs: { methods: Record<string, number>; getLogsPerBlock: number; notification: number }, priceWei?: bigint | string): string
