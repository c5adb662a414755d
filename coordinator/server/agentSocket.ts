/**
 * Transport for /v1/agent: one WebSocket per agent carrying JSON-RPC in both
 * directions. This module owns the server: the gate at the upgrade
 * (socketGate.ts), liveness pings and shutdown. Each socket's framing, limits
 * and authentication gate are in agentConnection.ts; the handlers own the
 * semantics.
 */
import { WebSocketServer } from 'ws'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { CoordinatorServices } from '../rpc/context.ts'
import { CloseCode } from '../services/sessions.ts'
import { PingLiveness, closeAll } from '../../lib/socketKit.ts'
import { SocketGate } from './socketGate.ts'
import { openAgentConnection } from './agentConnection.ts'

/** Time a socket gets at shutdown to finish the closing handshake before it is cut. */
const CLOSE_GRACE_MS = 1_000

export interface AgentSocketServer {
  wss: WebSocketServer
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Close every socket with 1001 and stop pinging. */
  close(): Promise<void>
}

export function createAgentSocketServer(services: CoordinatorServices): AgentSocketServer {
  const { config, log, clock } = services
  const hardFrameCap = config.maxFrameBytes * 4
  const wss = new WebSocketServer({
    noServer: true,
    // Frames between maxFrameBytes and this hard cap get a PAYLOAD_TOO_LARGE reply; above it ws closes with 1009.
    maxPayload: hardFrameCap,
    perMessageDeflate: false,
  })
  // Half-open sockets (peer vanished without a FIN) are found by a missed ping.
  const liveness = new PingLiveness(config.pingIntervalMs)
  // Connection floods and address caps (socketGate.ts): pending per address and in all, authenticated per address.
  const gate = new SocketGate(
    { maxPendingPerAddress: config.maxPendingSocketsPerAddress, maxPending: config.maxPendingSockets, maxAuthenticatedPerAddress: config.maxAgentsPerAddress },
    { log, clock, name: '', pacing: { ratePerSec: config.loginRate, burst: config.loginBurst } },
  )

  // At shutdown every socket closes at once: one line for all of them instead of one per agent (20,000 lines to a log
  // that an operator reads during a restart, and seconds of the stop spent writing them).
  const server = { stopping: false }

  return {
    wss,
    handleUpgrade(req, socket, head) {
      gate.upgrade(wss, req, socket, head, services.clientAddress(req), (ws, ticket) => openAgentConnection({ ws, req, ticket, services, liveness, hardFrameCap, server }))
    },
    async close() {
      server.stopping = true
      liveness.stop()
      const startedAtMs = clock.now()
      const sockets = wss.clients.size
      // Well-behaved peers get a moment to complete the closing handshake; the rest are cut.
      const closing = closeAll(wss.clients, CloseCode.GOING_AWAY, 'coordinator shutting down', CLOSE_GRACE_MS)
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      await closing
      log.info('agent sockets closed', { sockets, ms: clock.now() - startedAtMs })
    },
  }
}
