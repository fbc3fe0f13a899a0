// SendTargets (RFC 7143 Appendix C) and the rest of a full-feature-phase Text request. Pure.
import { isIPv4 } from 'node:net';
import { KeyNegotiator, targetSettings, type OperationalParams, type SessionType } from './negotiation';
import type { IscsiTargetDirectory, IscsiTargetView, PortalAddress } from './target-port';

export interface ConnectionPortal {
  /** Local address the initiator connected to. */
  address: string;
  port: number;
  tpgt: number;
}

/** "ip:port,tpgt", IPv6 in brackets (RFC 7143 13.8). */
export function formatTargetAddress(address: string, port: number, tpgt: number): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `${host}:${port},${tpgt}`;
}

/** "::ffff:10.0.0.1" (an IPv4 peer on a dual-stack socket) -> "10.0.0.1". */
function unmapIpv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

function isIpv6Wildcard(address: string): boolean {
  return address.includes(':') && /^[0:]+$/.test(address);
}

/**
 * The address to advertise for one listening portal. A wildcard listener is reachable at whatever local
 * address the initiator used for this connection; an IPv4 wildcard cannot be reached over IPv6.
 */
function advertisedAddress(portal: PortalAddress, connection: ConnectionPortal): string | undefined {
  const local = unmapIpv4(connection.address);
  if (portal.address === '0.0.0.0') return isIPv4(local) ? local : undefined;
  if (isIpv6Wildcard(portal.address)) return local;
  return portal.address;
}

function targetAddresses(directory: IscsiTargetDirectory, connection: ConnectionPortal): string[] {
  const seen = new Set<string>();
  for (const portal of directory.portals()) {
    const address = advertisedAddress(portal, connection);
    if (address !== undefined) seen.add(formatTargetAddress(address, portal.port, portal.tpgt));
  }
  return [...seen];
}

/**
 * SendTargets answer: TargetName=<name> then TargetAddress=<ip:port,tpgt> per portal, for every target
 * whose ACL admits this initiator. `query` is 'All' or one target name; empty or unknown gives no keys.
 */
export function sendTargetsResponse(
  query: string,
  directory: IscsiTargetDirectory,
  initiatorName: string,
  initiatorAddress: string,
  connectionPortal: ConnectionPortal,
): Array<[string, string]> {
  let targets: IscsiTargetView[];
  if (query === 'All') targets = directory.listTargets();
  else if (query === '') targets = [];
  else {
    const target = directory.findTarget(query);
    targets = target ? [target] : [];
  }
  targets = targets.filter((t) => t.isAllowed(initiatorName, initiatorAddress));
  if (targets.length === 0) return [];
  const addresses = targetAddresses(directory, connectionPortal);
  const out: Array<[string, string]> = [];
  for (const target of targets) {
    out.push(['TargetName', target.name]);
    for (const address of addresses) out.push(['TargetAddress', address]);
  }
  return out;
}

export interface TextRequestContext {
  directory: IscsiTargetDirectory;
  sessionType: SessionType;
  initiatorName: string;
  initiatorAddress: string;
  connectionPortal: ConnectionPortal;
  /** The session's target (Normal sessions). */
  target?: IscsiTargetView;
  /** The connection's negotiated values; a MaxRecvDataSegmentLength declaration updates it in place. */
  params: OperationalParams;
}

/**
 * Answer a Text request in full feature phase: SendTargets, plus every other key by the negotiation
 * rules (MaxRecvDataSegmentLength may be redeclared; login-only keys get Reject; unknown NotUnderstood).
 */
export function answerTextRequest(
  pairs: Array<[string, string]>,
  ctx: TextRequestContext,
): Array<[string, string]> {
  const keys = new KeyNegotiator({
    sessionType: ctx.sessionType,
    leading: true,
    settings: targetSettings(ctx.directory.globalIscsiParams(), ctx.target?.iscsiParams()),
    initial: ctx.params,
  });
  const out: Array<[string, string]> = [];
  for (const [key, value] of pairs) {
    if (key === 'SendTargets') {
      out.push(...sendTargets(value, ctx));
    } else {
      out.push(...keys.negotiate([[key, value]], 'ffp'));
    }
  }
  const agreed = keys.params();
  ctx.params.initiatorMaxRecvDataSegmentLength = agreed.initiatorMaxRecvDataSegmentLength;
  ctx.params.targetMaxRecvDataSegmentLength = agreed.targetMaxRecvDataSegmentLength;
  return out;
}

/** In a Normal session SendTargets only ever describes the session's own target (RFC 7143 Appendix C). */
function sendTargets(value: string, ctx: TextRequestContext): Array<[string, string]> {
  let query = value;
  if (ctx.sessionType === 'Normal') {
    const own = ctx.target?.name;
    if (own === undefined || (value !== '' && value !== 'All' && value !== own)) return [];
    query = own;
  }
  return sendTargetsResponse(
    query,
    ctx.directory,
    ctx.initiatorName,
    ctx.initiatorAddress,
    ctx.connectionPortal,
  );
}
