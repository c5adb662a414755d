/** Bumped on any incompatible change to methods or their params. */
export const PROTOCOL_VERSION = 1
/** Versions this build can talk to. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1]
export const AGENT_PATH = '/v1/agent'

/**
 * Login pacing at the upgrade of AGENT_PATH (docs/protocol.md): a 503 carries the booked slot's token in this
 * header and the wait in RETRY_AFTER_MS_HEADER; the agent sends the token back in this header at its slot.
 */
export const LOGIN_SLOT_HEADER = 'x-vipnode-login-slot'
export const RETRY_AFTER_MS_HEADER = 'x-vipnode-retry-after-ms'
