/** Bumped on any incompatible change to methods or their params. */
export const PROTOCOL_VERSION = 1
/** Versions this build can talk to. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1]
export const AGENT_PATH = '/v1/agent'
