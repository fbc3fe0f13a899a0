// Per-LU I/O accounting, the numbers behind `tgtadm --op stat` (tgt's struct lu_stat, per I_T nexus)
// and the Prometheus per-target/LUN series. Hot-path cost is a few additions on plain numbers and
// one bucket increment; nothing is allocated per command once a nexus has been seen.
import type { ScsiResult, ScsiTask } from '../scsi/scsi-types';

/** tgt's lu_stat fields for one (LU, I_T nexus). */
export interface NexusLuStat {
  rdSubmBytes: number;
  rdSubmCmds: number;
  rdDoneBytes: number;
  rdDoneCmds: number;
  wrSubmBytes: number;
  wrSubmCmds: number;
  wrDoneBytes: number;
  wrDoneCmds: number;
  errs: number;
}

/** Upper bounds (seconds) of the latency histogram buckets; +Inf is implicit. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5,
];

export type IoDirection = 'read' | 'write' | 'none';

/** A latency histogram in plain numbers (cumulative form is produced on export). */
export class LatencyHistogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }
}

export function emptyNexusLuStat(): NexusLuStat {
  return {
    rdSubmBytes: 0,
    rdSubmCmds: 0,
    rdDoneBytes: 0,
    rdDoneCmds: 0,
    wrSubmBytes: 0,
    wrSubmCmds: 0,
    wrDoneBytes: 0,
    wrDoneCmds: 0,
    errs: 0,
  };
}

/** What the transport told us about the data direction (the W/R bits of the SCSI Command PDU). */
export function directionOf(task: ScsiTask): IoDirection {
  if (task.writeExpected) return 'write';
  if (task.readExpected) return 'read';
  return 'none';
}

/** Everything counted for one logical unit. */
export class LuStats {
  /** Keyed by ItNexus.id. */
  readonly perNexus = new Map<number, NexusLuStat>();
  readonly readLatency = new LatencyHistogram();
  readonly writeLatency = new LatencyHistogram();
  readonly otherLatency = new LatencyHistogram();
  readOps = 0;
  writeOps = 0;
  otherOps = 0;
  readBytes = 0;
  writeBytes = 0;
  errors = 0;

  nexus(id: number): NexusLuStat {
    let s = this.perNexus.get(id);
    if (!s) {
      s = emptyNexusLuStat();
      this.perNexus.set(id, s);
    }
    return s;
  }

  /** A command was handed to the device. */
  submitted(s: NexusLuStat, dir: IoDirection, bytes: number): void {
    if (dir === 'read') {
      s.rdSubmCmds++;
      s.rdSubmBytes += bytes;
    } else if (dir === 'write') {
      s.wrSubmCmds++;
      s.wrSubmBytes += bytes;
    }
  }

  /** A command finished (any status); `seconds` is its execution time. */
  completed(s: NexusLuStat, dir: IoDirection, task: ScsiTask, result: ScsiResult, seconds: number): void {
    const good = result.status === 0;
    if (dir === 'read') {
      const bytes = result.dataIn ? Math.min(result.dataIn.length, task.expectedDataTransferLength) : 0;
      s.rdDoneCmds++;
      s.rdDoneBytes += bytes;
      this.readOps++;
      this.readBytes += bytes;
      this.readLatency.observe(seconds);
    } else if (dir === 'write') {
      const bytes = task.dataOut ? task.dataOut.length : 0;
      s.wrDoneCmds++;
      s.wrDoneBytes += bytes;
      this.writeOps++;
      this.writeBytes += bytes;
      this.writeLatency.observe(seconds);
    } else {
      this.otherOps++;
      this.otherLatency.observe(seconds);
    }
    if (!good) {
      s.errs++;
      this.errors++;
    }
  }

  nexusGone(id: number): void {
    this.perNexus.delete(id);
  }
}
