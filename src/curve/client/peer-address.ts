// Chunkserver addresses as Curve spells them: peers are "ip:port:index", connections go to "ip:port".

/** "ip:port:0" (or "ip:port") -> "ip:port"; undefined when it is not an address. */
export function endpointOfPeer(peer: string | undefined | null): string | undefined {
  if (!peer) return undefined;
  const parts = peer.split(':');
  if (parts.length < 2 || !parts[0]) return undefined;
  const port = Number(parts[1]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return `${parts[0]}:${port}`;
}

export function splitHostPort(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)) };
}
