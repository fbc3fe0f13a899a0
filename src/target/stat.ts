// `tgtadm --op stat` tables, laid out as tgt 1.0.85 prints them (usr/target.c tgt_stat_*): a header,
// then one line per (LU, I_T nexus) with read/write submitted/done bytes and commands and errors.
import type { ItNexus } from '../scsi/scsi-types';
import type { LogicalUnit } from './logical-unit';
import type { NexusLuStat } from './lu-stats';
import type { Target } from './target';

export const STAT_HEADER =
  'tgt lun sid rd_subm(bytes,cmds) rd_done(bytes,cmds) wr_subm(bytes,cmds) wr_done(bytes,cmds) errs\n';

const pad = (v: number, width: number): string => String(v).padStart(width, ' ');

export function statLine(tid: number, lun: number, sid: number, s: NexusLuStat): string {
  return (
    `${pad(tid, 3)} ${pad(lun, 3)} ${pad(sid, 3)} ` +
    `${pad(s.rdSubmBytes, 12)} ${pad(s.rdSubmCmds, 6)} ` +
    `${pad(s.rdDoneBytes, 12)} ${pad(s.rdDoneCmds, 6)} ` +
    `${pad(s.wrSubmBytes, 12)} ${pad(s.wrSubmCmds, 6)} ` +
    `${pad(s.wrDoneBytes, 12)} ${pad(s.wrDoneCmds, 6)} ` +
    `${pad(s.errs, 4)}\n`
  );
}

/** Maps a nexus id to the session id `show` prints for it (the TSIH); identity when unknown. */
export type SidOf = (nexusId: number) => number;

export function statLu(t: Target, lu: LogicalUnit, sidOf: SidOf): string {
  let out = '';
  for (const [nexusId, s] of lu.stats.perNexus) out += statLine(t.tid, lu.lun, sidOf(nexusId), s);
  return out;
}

export function statTarget(t: Target, sidOf: SidOf): string {
  return t
    .sortedLuns()
    .map((lu) => statLu(t, lu, sidOf))
    .join('');
}

/** The session id of each live nexus of a target: TSIH from the transport, matched by initiator port. */
export function sidMapper(
  t: Target,
  sessions: Array<{ tsih: number; initiator: string; isid: string }> | undefined,
): SidOf {
  const byPort = new Map<string, number>();
  for (const s of sessions ?? []) byPort.set(`${s.initiator},i,0x${s.isid}`.toLowerCase(), s.tsih);
  const nexusById = new Map<number, ItNexus>();
  for (const n of t.nexuses.values()) nexusById.set(n.nexus.id, n.nexus);
  return (id) => {
    const n = nexusById.get(id);
    return (n && byPort.get(n.initiatorPortName.toLowerCase())) ?? id;
  };
}
