// Prometheus metrics of the iSCSI transport. Counters are labelled by target name only (bounded
// cardinality); per-PDU work is a counter increment, nothing more.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../common/metrics';

export const sessionsGauge = new Gauge({
  name: 'tgtd_iscsi_sessions',
  help: 'Open iSCSI sessions',
  labelNames: ['type'],
  registers: [registry],
});

export const connectionsGauge = new Gauge({
  name: 'tgtd_iscsi_connections',
  help: 'Open iSCSI TCP connections (any phase)',
  registers: [registry],
});

export const loginsTotal = new Counter({
  name: 'tgtd_iscsi_logins_total',
  help: 'Login attempts by outcome (success, or the login status class/detail in hex)',
  labelNames: ['result'],
  registers: [registry],
});

export const commandsTotal = new Counter({
  name: 'tgtd_scsi_commands_total',
  help: 'SCSI commands completed, by target and SCSI status',
  labelNames: ['target', 'status'],
  registers: [registry],
});

export const bytesTotal = new Counter({
  name: 'tgtd_scsi_bytes_total',
  help: 'Data bytes transferred, by target and direction (read = Data-In, write = Data-Out)',
  labelNames: ['target', 'direction'],
  registers: [registry],
});

export const rejectsTotal = new Counter({
  name: 'tgtd_iscsi_rejects_total',
  help: 'Reject PDUs sent, by reason code',
  labelNames: ['reason'],
  registers: [registry],
});

export const tmfTotal = new Counter({
  name: 'tgtd_iscsi_task_management_total',
  help: 'Task management requests, by function and response',
  labelNames: ['function', 'response'],
  registers: [registry],
});

export const bufferedBytesGauge = new Gauge({
  name: 'tgtd_iscsi_buffered_data_bytes',
  help: 'Bytes of command data held by the transport (bounded by the data budget)',
  registers: [registry],
});
