/**
 * The agent protocol: one table of methods per direction, each with zod
 * schemas for its params and result. Both ends validate with these, so the
 * coordinator, the host agent and the client shim cannot drift apart.
 */
import { z } from 'zod'
import { ipHostProblem, isNodeId, parseEnode, type NodeId } from './enode.ts'
import { LATENCY_BUCKET_COUNT } from './quality.ts'

export const MAX_PEERS_PER_REPORT = 1024
export const MAX_HOSTS_PER_REQUEST = 16
/** Hosts a client asks for when it does not say: vipnode_requestHosts' count, GET /v1/bootstrap's, `vipnode client --hosts`. */
export const DEFAULT_HOSTS_PER_CLIENT = 3
/** How often agents report unless the pool says otherwise: the coordinator's --update-interval, and what an agent assumes until vipnode_connect answers. */
export const DEFAULT_UPDATE_INTERVAL_MS = 30_000

export const nodeIdSchema = z
  .string()
  .refine(isNodeId, { message: 'must be a node ID: 128 lowercase hex characters' })
  .transform((s) => s as NodeId)

/**
 * A list of node IDs checked in one pass. Reports carry one every interval
 * from every agent: a zod element schema per ID (refine + transform) was a
 * tenth of the coordinator's time at 5,000 reports/s.
 */
export const nodeIdListSchema = z.custom<NodeId[]>(
  (v) => Array.isArray(v) && v.length <= MAX_PEERS_PER_REPORT && v.every(isNodeId),
  { message: `must be an array of at most ${MAX_PEERS_PER_REPORT} node IDs (128 lowercase hex characters each)` },
)

export const enodeSchema = z.string().max(512).superRefine((s, ctx) => {
  try {
    parseEnode(s)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

/** An enode an agent stands for (its own at connect, a client's in an admission): IP literals only (protocol/enode.ts hasIpHost). */
export const agentEnodeSchema = z.string().max(512).superRefine((s, ctx) => {
  try {
    const problem = ipHostProblem(parseEnode(s))
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 32-byte 0x-prefixed hex string')
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 20-byte 0x-prefixed address')
const weiString = z.string().regex(/^\d{1,78}$/, 'must be a decimal wei amount')
const chainId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)

export const roleSchema = z.enum(['host', 'client'])
export type Role = z.infer<typeof roleSchema>
export const serviceKindSchema = z.enum(['peer', 'rpc'])
export type ServiceKind = z.infer<typeof serviceKindSchema>

/**
 * One entry of a node's peer list, in the shape of geth's `admin_peers` (only
 * `id` is required: ethereumjs sends no `enode`; clients add members of their
 * own). The coordinator reads only `id` and `enode`, so only those are
 * validated; the rest passes through untouched. A report carries up to
 * 1,024 peers thousands of times a second: validating members nobody reads
 * was a tenth of the coordinator's time under load (bench/agentLoad.ts).
 */
export const adminPeerSchema = z
  .object({
    id: z.string().max(256),
    enode: z.string().max(512).optional(),
  })
  .loose()

export const blockRefSchema = z.object({
  number: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  hash: hex32,
})
export type BlockRef = z.infer<typeof blockRefSchema>

// ---------------------------------------------------------------- coordinator -> agent at socket open

export const challengeParamsSchema = z.object({
  challenge: z.string().regex(/^[0-9a-f]{64}$/),
  poolId: z.string(),
  protocolVersion: z.number().int(),
  expiresAtMs: z.number().int(),
})
export type ChallengeParams = z.infer<typeof challengeParamsSchema>

// ---------------------------------------------------------------- rpc service (relayed JSON-RPC)

/** What a light client (Helios, Nimbus verified proxy, Lodestar prover) needs from an execution RPC beyond the basics. */
export const RPC_REQUIRED_METHODS = ['eth_getProof', 'eth_getBlockReceipts', 'eth_createAccessList', 'eth_getLogs'] as const

/** The capability an rpc host advertises when its relay also serves the beacon light-client routes (`--relay-beacon`). */
export const BEACON_CAPABILITY = 'beacon'
/** What a client may name in vipnode_requestHosts `needs`: capabilities rpc hosts advertise and the balancer picks by. */
export const HOST_NEEDS = [BEACON_CAPABILITY] as const
export type HostNeed = (typeof HOST_NEEDS)[number]

const relayUrlSchema = z
  .string()
  .max(512)
  .refine((s) => /^https?:\/\//.test(s) && URL.canParse(s), { message: 'must be an http(s) URL' })
const capabilitiesSchema = z.array(z.string().max(64)).max(64)
const tokenSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a 32-byte hex relay token')

/**
 * Leave to relay between one client and one host, issued by the coordinator
 * to both sides. `nodeId` is the other side: the client for a host, the host
 * (with its `relayUrl`) for a client.
 */
export const relayGrantSchema = z.object({
  nodeId: nodeIdSchema,
  token: tokenSchema,
  expiresAtMs: z.number().int().nonnegative(),
  relayUrl: relayUrlSchema.optional(),
  /** To a client: the host's relay also serves the beacon light-client routes (it advertised BEACON_CAPABILITY). */
  beacon: z.literal(true).optional(),
})
export type RelayGrant = z.infer<typeof relayGrantSchema>

/** One side's relay traffic with one counterpart since its previous report. */
export const relayActivitySchema = z.object({
  nodeId: nodeIdSchema,
  requests: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Time with a call in flight or a relay WebSocket (subscriptions) open: a session can be active without requests. */
  busyMs: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /**
   * Compute units of the served calls and delivered notifications (docs/rpcService.md#compute-units). Optional:
   * agents before issue 21 do not send it, and a pair's units are corroborated only from reports on both sides that carry it.
   */
  computeUnits: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
})
export type RelayActivity = z.infer<typeof relayActivitySchema>

/** Hosts one report may carry quality for: a client holds at most 16, plus hosts dropped during the interval. */
export const MAX_QUALITY_HOSTS = 64
/** Latency histograms per host in one report (protocol/quality.ts QUALITY_METHODS has 22 and `other`). */
export const MAX_QUALITY_METHODS = 32

const callCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** One method's latency of served calls since the previous report: counts per LATENCY_BUCKETS_MS bucket. */
export const methodLatencySchema = z.object({
  /** A method name; the coordinator keeps unlisted ones under `other` (protocol/quality.ts). */
  method: z.string().min(1).max(64),
  buckets: z.array(callCount).length(LATENCY_BUCKET_COUNT, `must hold ${LATENCY_BUCKET_COUNT} counts, one per latency bucket`),
})

/**
 * A client's measure of one host's service since its previous report (rpc
 * service, docs/rpcService.md#quality): calls by outcome and the latency of
 * the served ones. Counts are calls (batch elements), not requests.
 */
export const hostQualitySchema = z
  .object({
    /** The host. */
    nodeId: nodeIdSchema,
    /** Calls answered with a result. */
    ok: callCount,
    /** Errors the request itself caused (agent/relay/replyVerdict.ts): neither the host's fault nor service. */
    clientErrors: callCount,
    /** Error replies that are the host's fault: its node lacks the state, fails, or answers malformed. */
    nodeErrors: callCount,
    /** The relay refused to serve: token refused (401), rate limited (429, -32005). */
    refused: callCount,
    /** No usable answer: connection refused or reset, HTTP 5xx without a JSON-RPC error, a redirect, a relay name on a non-public address. */
    transport: callCount,
    /** No answer within the proxy's timeout (10 s), or the relay's own 504. */
    timeouts: callCount,
    latency: z.array(methodLatencySchema).max(MAX_QUALITY_METHODS).default([]),
  })
  .superRefine((q, ctx) => {
    let samples = 0
    for (const m of q.latency) for (const n of m.buckets) samples += n
    if (samples > q.ok) ctx.addIssue({ code: 'custom', path: ['latency'], message: `holds ${samples} latency samples, more than the ${q.ok} calls served (ok)` })
  })
export type HostQuality = z.output<typeof hostQualitySchema>

const hostQualityListSchema = z
  .array(hostQualitySchema)
  .max(MAX_QUALITY_HOSTS)
  .superRefine((list, ctx) => {
    const seen = new Set<string>()
    list.forEach((q, i) => {
      if (seen.has(q.nodeId)) ctx.addIssue({ code: 'custom', path: [i, 'nodeId'], message: `host ${q.nodeId.slice(0, 16)}… is listed twice` })
      seen.add(q.nodeId)
    })
  })

// ---------------------------------------------------------------- agent -> coordinator

const connectBody = z.object({
  protocolVersion: z.number().int().positive(),
  role: roleSchema,
  nodeId: nodeIdSchema,
  enode: agentEnodeSchema,
  chainId,
  clientVersion: z.string().max(256),
  agentVersion: z.string().max(64),
  kind: serviceKindSchema.default('peer'),
  payout: address.optional(),
  capacity: z.number().int().min(0).max(10_000).optional(),
  region: z.string().max(32).optional(),
  /** rpc hosts: where clients reach this host's relay (http(s) URL; the same path answers WebSocket). */
  relayUrl: relayUrlSchema.optional(),
  /** rpc hosts: the methods a capability probe found the node serving. */
  capabilities: capabilitiesSchema.optional(),
  /**
   * The coordinator origin the agent dialled (protocol/origin.ts), signed so that a login relayed to
   * another pool is refused there (WRONG_ORIGIN).
   */
  origin: z.string().max(300),
})
export const connectParamsSchema = connectBody.extend({
  challenge: z.string().regex(/^[0-9a-f]{64}$/, 'must be the 32-byte hex challenge this socket received'),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte 0x-prefixed hex signature'),
})
export type ConnectParams = z.input<typeof connectParamsSchema>
/** The signed part of vipnode_connect: everything except challenge and signature. */
export type ConnectBody = z.input<typeof connectBody>
/** What an agent builds for vipnode_connect; PoolConnection adds the origin it dialled. */
export type ConnectHello = Omit<ConnectBody, 'origin'>

export const connectResultSchema = z.object({
  sessionId: z.string(),
  poolId: z.string(),
  nodeId: nodeIdSchema,
  role: roleSchema,
  updateIntervalMs: z.number().int().positive(),
  balanceWei: weiString,
  /** The pool runs for development (--allow-private-addresses): hosts may advertise loopback or private addresses. */
  allowPrivateAddresses: z.boolean().optional(),
  message: z.string().optional(),
})
export type ConnectResult = z.infer<typeof connectResultSchema>

/**
 * The longest peer list a coordinator keeps for `samePeers` (a session's memory: 256 IDs ≈ 37 KB). A node with
 * more peers sends its list every time. Execution clients default to 25–100 peers.
 */
export const MAX_SAME_PEERS = 256

export const updateParamsSchema = z.object({
  /** The node's peers in `admin_peers` shape (what third-party agents send; only `id`/`enode` are read). */
  peers: z.array(adminPeerSchema).max(MAX_PEERS_PER_REPORT).default([]),
  /**
   * The node's peers as node IDs: what our agents send. A report is parsed
   * thousands of times a second; IDs alone are a third of the bytes of geth's
   * entries and a fraction of the objects to parse and collect.
   */
  peerIds: nodeIdListSchema.optional(),
  /**
   * The node's peers are those of this session's previous report, sent again
   * as they were: our agents send it instead of `peerIds` while nothing
   * changed. A node's peers change every few minutes and it reports every few
   * seconds; the IDs were 95 % of a report's bytes and most of the
   * coordinator's work on it (issue 20). Not with `peers` or `peerIds`.
   */
  samePeers: z.literal(true).optional(),
  block: blockRefSchema,
  /** rpc service: relay sessions with traffic (or an open socket) since the previous report. */
  relays: z.array(relayActivitySchema).max(MAX_PEERS_PER_REPORT).optional(),
  /** rpc hosts: the capability probe's latest answer, when it changed. */
  capabilities: capabilitiesSchema.optional(),
  /**
   * rpc clients: the service each host gave since the previous report, as the client's proxy measured it
   * (docs/rpcService.md#quality). Optional: agents before issue 21 item 2 do not send it. The coordinator
   * takes an entry only for a host assigned to this client, and ignores the field from hosts.
   */
  quality: hostQualityListSchema.optional(),
  /**
   * rpc clients: hosts whose answers to a checked call (docs/rpcService.md#checked-answers) agreed with
   * another host's since the previous report. Each counts against bad-answer reports about that host.
   */
  checked: z.array(nodeIdSchema).max(MAX_QUALITY_HOSTS).optional(),
}).refine((p) => !p.samePeers || (p.peers.length === 0 && p.peerIds === undefined), {
  message: 'samePeers repeats the previous report\'s peers: send it without peers and peerIds',
  path: ['samePeers'],
})
export type UpdateParams = z.input<typeof updateParamsSchema>

export const updateResultSchema = z.object({
  /** Pool peers the coordinator vouches for: a host's assigned clients, a client's assigned hosts. */
  peers: z.array(nodeIdSchema),
  /** Reported peers that belong to the pool but are no longer vouched for: drop them. */
  drop: z.array(nodeIdSchema),
  balanceWei: weiString,
  /** rpc service: the relay grants currently valid for this agent's assigned pairs. */
  relays: z.array(relayGrantSchema).optional(),
})
export type UpdateResult = z.infer<typeof updateResultSchema>

export const requestHostsParamsSchema = z.object({
  count: z.number().int().min(1).max(MAX_HOSTS_PER_REQUEST).default(DEFAULT_HOSTS_PER_CLIENT),
  kind: serviceKindSchema.default('peer'),
  /**
   * Assigned hosts the client gives up because they never served it (never
   * appeared among its node's peers, or never answered on their relay). The
   * coordinator releases these pairs first (reason client-replaced) and does
   * not offer them to this client again while the pair is remembered.
   */
  replace: z.array(nodeIdSchema).max(MAX_HOSTS_PER_REQUEST).optional(),
  /**
   * rpc: capabilities the client needs from its hosts beyond the light-client methods; today only
   * BEACON_CAPABILITY. Hosts that offer them are picked first (docs/loadBalancer.md, "needs").
   */
  needs: z
    .array(z.enum(HOST_NEEDS, { message: `must be one of: ${HOST_NEEDS.map((n) => JSON.stringify(n)).join(', ')}` }))
    // Distinct values of a closed set: no length bound is needed beyond this.
    .refine((list) => new Set(list).size === list.length, { message: 'names a capability twice' })
    .optional(),
}).superRefine((p, ctx) => {
  // A peer host has no relay: a need only an rpc host can meet must not be silently dropped.
  if (p.needs !== undefined && p.needs.length > 0 && p.kind !== 'rpc') ctx.addIssue({ code: 'custom', path: ['needs'], message: `only rpc hosts offer ${p.needs.join(', ')}: ask with kind "rpc"` })
})
export type RequestHostsParams = z.input<typeof requestHostsParamsSchema>

export const assignedHostSchema = z.object({
  nodeId: nodeIdSchema,
  enode: enodeSchema,
  kind: serviceKindSchema,
  /** rpc hosts: where to send requests, and the token to send them with. */
  relay: relayGrantSchema.optional(),
})
export type AssignedHost = z.infer<typeof assignedHostSchema>
export const requestHostsResultSchema = z.object({
  hosts: z.array(assignedHostSchema),
  message: z.string().optional(),
})
export type RequestHostsResult = z.infer<typeof requestHostsResultSchema>

// ---------------------------------------------------------------- coordinator -> host

export const admitParamsSchema = z.object({
  nodeId: nodeIdSchema,
  // A host refuses a client enode it could not use with INVALID_PARAMS: the coordinator counts that against the client.
  enode: agentEnodeSchema,
  kind: serviceKindSchema.default('peer'),
  /** rpc: the client's grant; the host's relay accepts its token until it expires or is replaced. */
  relay: relayGrantSchema.optional(),
})
export type AdmitParams = z.input<typeof admitParamsSchema>
export const admitResultSchema = z.object({ admitted: z.literal(true) })

export const evictParamsSchema = z.object({ nodeId: nodeIdSchema, reason: z.string().max(256) })
export type EvictParams = z.input<typeof evictParamsSchema>
export const evictResultSchema = z.object({ evicted: z.literal(true) })

// ---------------------------------------------------------------- coordinator -> client

export const noticeParamsSchema = z.object({
  level: z.enum(['info', 'warn', 'error']),
  code: z.string().max(64),
  message: z.string().max(2048),
  url: z.string().max(2048).optional(),
})
/** Methods whose answers at a block number are deterministic: the only ones a bad-answer report may name. */
export const CHECKED_METHODS = ['eth_getBlockByNumber', 'eth_getProof'] as const
/** A checked call's params, as JSON: a block by number or one account's proof, a few hundred bytes at most. */
export const MAX_CHECKED_PARAMS_BYTES = 1_024
/** Hosts a client names as having given the majority answer. */
export const MAX_ANSWER_WITNESSES = 4

const digestSchema = z.string().regex(/^0x[0-9a-f]{64}$/, 'must be 0x and 64 lowercase hex digits (SHA-256 of the canonical JSON answer)')

/**
 * vipnode_reportBadAnswer (rpc clients): a host answered a deterministic call differently from the majority of
 * the hosts the client asked (docs/rpcService.md#checked-answers). The answer is sent as its digest: the pool
 * does not store answers, it counts clients.
 */
export const reportBadAnswerParamsSchema = z
  .object({
    /** The host in the minority. */
    host: nodeIdSchema,
    call: z.object({
      method: z.enum(CHECKED_METHODS),
      params: z.array(z.unknown()).max(4),
    }),
    /** SHA-256 of the canonical JSON of the host's answer (its `result`). */
    answerDigest: digestSchema,
    /** SHA-256 of the canonical JSON of the majority's answer. */
    majorityDigest: digestSchema,
    /** The hosts that gave the majority answer (at least two: the compared one and the third). */
    witnesses: z.array(nodeIdSchema).min(2).max(MAX_ANSWER_WITNESSES),
  })
  .superRefine((p, ctx) => {
    const bytes = JSON.stringify(p.call.params).length
    if (bytes > MAX_CHECKED_PARAMS_BYTES) ctx.addIssue({ code: 'custom', path: ['call', 'params'], message: `is ${bytes} bytes of JSON, over the limit of ${MAX_CHECKED_PARAMS_BYTES}` })
    if (p.answerDigest === p.majorityDigest) ctx.addIssue({ code: 'custom', path: ['answerDigest'], message: 'equals majorityDigest: the answers agree, there is nothing to report' })
    if (new Set(p.witnesses).size !== p.witnesses.length) ctx.addIssue({ code: 'custom', path: ['witnesses'], message: 'names a host twice' })
    if (p.witnesses.includes(p.host)) ctx.addIssue({ code: 'custom', path: ['witnesses'], message: 'names the reported host itself' })
  })
export type ReportBadAnswerParams = z.input<typeof reportBadAnswerParamsSchema>

export const reportBadAnswerResultSchema = z.object({
  /** Whether the report counted as evidence (only about a host assigned to this client, with witnesses assigned to it too). */
  accepted: z.boolean(),
  /** Why not, when it did not. */
  reason: z.string().optional(),
  /** The host is out of rotation now. */
  excluded: z.boolean(),
})
export type ReportBadAnswerResult = z.infer<typeof reportBadAnswerResultSchema>

export type NoticeParams = z.input<typeof noticeParamsSchema>

export interface MethodSpec<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  params: P
  result: R
}

export const agentToCoordinator = {
  vipnode_connect: { params: connectParamsSchema, result: connectResultSchema },
  vipnode_update: { params: updateParamsSchema, result: updateResultSchema },
  vipnode_requestHosts: { params: requestHostsParamsSchema, result: requestHostsResultSchema },
  vipnode_reportBadAnswer: { params: reportBadAnswerParamsSchema, result: reportBadAnswerResultSchema },
} as const satisfies Record<string, MethodSpec>

export const coordinatorToHost = {
  vipnode_admit: { params: admitParamsSchema, result: admitResultSchema },
  vipnode_evict: { params: evictParamsSchema, result: evictResultSchema },
} as const satisfies Record<string, MethodSpec>

/** Notifications: no reply is expected. */
export const coordinatorNotifications = {
  vipnode_challenge: challengeParamsSchema,
  vipnode_notice: noticeParamsSchema,
} as const

export type AgentMethod = keyof typeof agentToCoordinator
export type HostMethod = keyof typeof coordinatorToHost
