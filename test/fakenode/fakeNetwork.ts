/**
 * A set of fake nodes started together, so a test can close them all in one
 * afterEach. Peering itself always goes over each node's HTTP /p2p endpoint,
 * in-process or not, so there is one code path to trust.
 */
export interface Closable {
  close(): Promise<void>
}

export interface FakeNetwork {
  readonly nodes: Set<Closable>
  closeAll(): Promise<void>
}

export function createFakeNetwork(): FakeNetwork {
  const nodes = new Set<Closable>()
  return {
    nodes,
    async closeAll() {
      const all = [...nodes]
      nodes.clear()
      await Promise.all(all.map((n) => n.close()))
    },
  }
}
