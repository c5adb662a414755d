// Types for abi.js, which the browser loads as-is and the server and tests import.
export type ParsedAmount = { ok: true; wei: bigint } | { ok: false; reason: 'empty' | 'format' | 'decimals'; message: string }
export interface ErrorDef {
  name: string
  inputs: { name: string; type: string }[]
}
export type ErrorTable = Record<string, ErrorDef>
export interface DecodedError {
  name: string
  args: { name: string; type: string; value: unknown }[]
}
export declare function parseAmount(text: string, decimals?: number): ParsedAmount
export declare function toQuantity(v: bigint | number): string
export declare function encodeUint(v: bigint | number | string): string
export declare function encodeAddress(address: string): string
export declare function encodeBytes32(value: string): string
export declare function encodeDeposit(selector: string, account: string): string
export declare function encodeClaim(selector: string, payee: string, cumulative: bigint | string, proof: readonly string[]): string
export declare function encodeAddressCall(selector: string, address: string): string
export declare function decodeUint(hex: string): bigint
export declare function decodeRevert(data: string, errors: ErrorTable | undefined): DecodedError | undefined
export declare function findRevertData(err: unknown, errors: ErrorTable | undefined): string | undefined
export declare function errorCode(err: unknown): number | undefined
export declare function nodeIdFrom(text: string): string | undefined
export declare function addressFrom(text: string): string | undefined
