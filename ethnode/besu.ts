/**
 * Hyperledger Besu.
 * Quirks:
 * - No trusted peers: no `admin_addTrustedPeer`. The nearest thing is the
 *   nodes allowlist (`perm_addNodesToAllowlist([enodes])`), which exists only
 *   with `--permissions-nodes-config-file-enabled` and the PERM API. So admit
 *   = allowlist + `admin_addPeer`, evict = un-allowlist + `admin_removePeer`.
 * - Caution for operators: once the allowlist is enabled, Besu accepts only
 *   allowlisted nodes, so a host's ordinary peers must be listed too.
 * - Allowlist calls fail on no-ops ("Cannot add an existing node to
 *   allowlist", "Cannot remove an absent node from allowlist"); for us the
 *   end state is what matters, so those count as success.
 * - Without the allowlist enabled, perm_* reply "Node allowlist has not been
 *   enabled"; that is reported as MissingMethodError naming the flag.
 * - `admin_peers[].id` is the 0x-prefixed 64-byte public key; `enode` is there too.
 * - Unknown or disabled methods: -32601 "Method not found" / -32604 "Method not enabled".
 */
import { baseNode, bothSteps, canonicalEnode, evictTarget, expectTrue } from './baseNode.ts'
import { MissingMethodError, NodeRpcError, explainMissingMethod } from './errors.ts'
import type { NodeAdapter } from './ethNode.ts'

export const besuAdapter: NodeAdapter = {
  kind: 'besu',
  matches: (clientVersion) => /^besu\//i.test(clientVersion),
  create(rpc, clientVersion) {
    const base = baseNode(rpc, 'besu', clientVersion)

    /** An allowlist change, where "already so" is success and "allowlist off" is a missing feature. */
    const allowlist = async (method: string, enode: string, noop: RegExp) => {
      try {
        await base.call(method, [[enode]])
      } catch (err) {
        if (!(err instanceof NodeRpcError) || err instanceof MissingMethodError) throw err
        if (noop.test(err.message)) return
        if (/allowlist has not been enabled|not enabled/i.test(err.message)) {
          throw new MissingMethodError(method, 'besu', explainMissingMethod(method, 'besu'))
        }
        throw err
      }
    }

    return {
      ...base,
      async admit(enode) {
        const canonical = canonicalEnode(enode)
        await allowlist('perm_addNodesToAllowlist', canonical, /existing|already/i)
        expectTrue(await base.call('admin_addPeer', [canonical]), 'admin_addPeer', canonical)
      },
      async evict(nodeId, enode) {
        const target = evictTarget(nodeId, enode)
        await bothSteps(
          () => allowlist('perm_removeNodesFromAllowlist', target, /absent|not (in|on) (the )?allowlist|missing/i),
          () => base.call('admin_removePeer', [target]),
        )
      },
    }
  },
}
