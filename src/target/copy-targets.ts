// Which LUs an EXTENDED COPY issued through one target may use as source or destination: any disk LU of
// the daemon named by its NAA designator, if the issuing initiator could reach it itself. An LU of the
// same target always qualifies; one of another target only when that target is ready, its ACL admits the
// initiator (name and the address of the issuing session), and it asks no CHAP the source target did
// not (its incoming accounts are none, or the same as the source's).
import type { CopyEndpoint } from '../scsi/xcopy';
import type { ItNexus } from '../scsi/scsi-types';
import type { Target } from './target';

interface CopyCapable {
  copyEndpoint(): CopyEndpoint;
}

function isCopyCapable(d: unknown): d is CopyCapable {
  return typeof (d as Partial<CopyCapable>).copyEndpoint === 'function';
}

function sameAccounts(a: Target, b: Target): boolean {
  const users = (t: Target): string[] =>
    t
      .incomingAccounts()
      .map((x) => x.user)
      .sort();
  const ua = users(a);
  const ub = users(b);
  return ub.length === 0 || (ua.length === ub.length && ua.every((u, i) => u === ub[i]));
}

export function resolveCopyTarget(
  targets: Iterable<Target>,
  sourceTid: number,
  naa: Buffer,
  nexus: ItNexus,
): CopyEndpoint | undefined {
  const all = [...targets];
  const source = all.find((t) => t.tid === sourceTid);
  for (const target of all) {
    for (const lu of target.luns.values()) {
      if (!lu.naa.equals(naa)) continue;
      if (!isCopyCapable(lu.device)) return undefined;
      if (target.tid !== sourceTid) {
        const address = source?.nexuses.get(nexus.id)?.address;
        if (!source || address === undefined || target.state !== 'ready') return undefined;
        if (!target.isAllowed(nexus.initiatorName, address) || !sameAccounts(source, target))
          return undefined;
      }
      return lu.device.copyEndpoint();
    }
  }
  return undefined;
}
