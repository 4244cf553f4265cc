import { BlockList, isIP } from 'node:net';

/**
 * Who is at the other end of a request, for failed-login limits. The connection's peer, unless
 * the peer is one of the configured trusted proxies (BERTH_TRUSTED_PROXIES): then the address
 * that proxy saw, read from `X-Forwarded-For` right to left past every trusted hop. Anyone can
 * write that header, so it is believed from trusted proxies only.
 */
export class ClientAddresses {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const block of trustedProxies) {
      const [address = '', prefix = ''] = block.split('/');
      this.trusted.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4');
    }
    this.any = trustedProxies.length > 0;
  }

  resolve(peer: string | undefined, forwardedFor: string | null | undefined): string {
    let client = normalise(peer ?? '') ?? 'unknown';
    if (!this.any || !forwardedFor) return client;
    const hops = forwardedFor.split(',').map((hop) => hop.trim());
    while (this.isTrusted(client) && hops.length > 0) {
      const hop = normalise(hops.pop()!);
      // A hop that is not an address means the chain cannot be followed further.
      if (hop === null) break;
      client = hop;
    }
    return client;
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** An IPv4 address seen through an IPv6 socket (`::ffff:10.0.0.1`) is the IPv4 address. */
function normalise(address: string): string | null {
  const plain = address.replace(/^\[(.*)\]$/, '$1').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  return isIP(plain) === 0 ? null : plain;
}
