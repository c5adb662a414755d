/**
 * Nethermind.
 * Quirks:
 * - `admin_addPeer(enode, addToStaticNodes)` and
 *   `admin_removePeer(enode, removeFromStaticNodes)` take a second bool; it
 *   defaults to false, which makes addPeer a one-shot dial. We pass true so a
 *   dial is kept up like geth's static peers, and removal clears it.
 * - Both return the enode string, not a bool.
 * - `admin_peers` entries are `{clientId, host, port, address, isBootnode,
 *   isTrusted, isStatic, enode, …}`: no `name`/`network`/`caps`; the base
 *   normaliser maps clientId → name, isTrusted → trusted, address → remoteAddress.
 * - `admin_addTrustedPeer` is missing from the 1.30 docs and present in the
 *   1.33 docs; on older releases admit fails with MissingMethodError.
 * - Modules are enabled with `--JsonRpc.EnabledModules [Admin,Eth,Net,Web3]`.
 */
import { baseNode, bothSteps, canonicalEnode, evictTarget, expectTrue } from './baseNode.ts'
import type { NodeAdapter } from './ethNode.ts'

export const nethermindAdapter: NodeAdapter = {
  kind: 'nethermind',
  matches: (clientVersion) => /^nethermind\//i.test(clientVersion),
  create(rpc, clientVersion) {
    const base = baseNode(rpc, 'nethermind', clientVersion)
    return {
      ...base,
      async dial(enode) {
        const canonical = canonicalEnode(enode)
        expectTrue(await base.call('admin_addPeer', [canonical, true]), 'admin_addPeer', canonical)
      },
      async evict(nodeId, enode) {
        const target = evictTarget(nodeId, enode)
        await bothSteps(
          () => base.call('admin_removeTrustedPeer', [target]),
          () => base.call('admin_removePeer', [target, true]),
        )
      },
    }
  },
}
