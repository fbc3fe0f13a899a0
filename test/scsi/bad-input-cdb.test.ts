// Bad CDBs, table-driven over every command REPORT SUPPORTED OPERATION CODES lists (a new opcode joins the
// tables by itself and fails until it has a baseline below):
// - each bit its CDB usage data marks unused (reserved, obsolete, CONTROL byte NACA/LINK/vendor bits), set
//   one at a time in an otherwise valid CDB, is ILLEGAL REQUEST / INVALID FIELD IN CDB (05/24/00) with a
//   field pointer at that byte (SPC-4 4.5.2.4.2: C/D=1; the bit pointer at that bit or at the left-most
//   bit of the field holding it), and changes nothing;
// - every opcode it does not list is INVALID COMMAND OPERATION CODE (05/20/00), every unlisted service
//   action of a listed opcode INVALID FIELD IN CDB pointing at the SERVICE ACTION field; the LU keeps
//   serving afterwards with no state left behind.
// Each table runs with ALUA off (no REPORT/SET TARGET PORT GROUPS: MAINTENANCE OUT is an unlisted opcode,
// MAINTENANCE IN 0x0A an unlisted service action), implicit only (RTPG listed, MAINTENANCE OUT not) and
// both (RTPG and STPG listed).
import t from 'tap';
import { AluaPortGroup, type AluaMode } from '../../src/scsi/alua';
import type { DiskParams } from '../../src/scsi/device-params';
import { encodeIscsiTransportId } from '../../src/scsi/transport-id';
import {
  BLOCKS,
  BS,
  cdb10,
  cdb12,
  cdb16,
  code,
  GOOD,
  INVALID_FIELD_IN_CDB,
  INVALID_OPCODE,
  KEY1,
  KEY2,
  makeLu,
  nameOf,
  nexus,
  prout,
  registerBoth,
  senseOf,
  supportedCommands,
  xcopyCdb,
  xcopyList,
  type Io,
  type Lu,
  type SupportedCommand,
} from './bad-input-harness';

interface Baseline {
  cdb: Buffer;
  io?: Io;
  /** State the command needs to succeed (registrations, a finished copy...). */
  setup?: (lu: Lu) => Promise<void>;
}

const block = (): Buffer => Buffer.alloc(BS, 0x5a);
const b = (...bytes: number[]): Buffer => Buffer.from(bytes);

async function reserveType1(lu: Lu): Promise<void> {
  await registerBoth(lu);
  const p = prout(1, 0x01, KEY1, 0n);
  await lu.run(p.cdb, { dataOut: p.dataOut });
}

/** A valid, GOOD-answering CDB for every command the LU supports, keyed like nameOf(). */
const BASELINES: Record<string, Baseline> = {
  '0x00': { cdb: b(0x00, 0, 0, 0, 0, 0) },
  '0x03': { cdb: b(0x03, 0, 0, 0, 18, 0) },
  '0x04': { cdb: b(0x04, 0, 0, 0, 0, 0) }, // FORMAT UNIT, FMTDATA=0 (thin LU: unmaps the medium)
  '0x08': { cdb: b(0x08, 0, 0, 8, 1, 0) },
  '0x0a': { cdb: b(0x0a, 0, 0, 8, 1, 0), io: { dataOut: block() } },
  '0x12': { cdb: b(0x12, 0, 0, 0, 0xff, 0) },
  '0x15': { cdb: b(0x15, 0x10, 0, 0, 0, 0) },
  '0x16': { cdb: b(0x16, 0, 0, 0, 0, 0) },
  '0x17': { cdb: b(0x17, 0, 0, 0, 0, 0) },
  '0x1a': { cdb: b(0x1a, 0, 0x3f, 0, 0xff, 0) },
  '0x1b': { cdb: b(0x1b, 0, 0, 0, 0x01, 0) },
  '0x1c': { cdb: b(0x1c, 0x01, 0x00, 0, 0xff, 0) }, // RECEIVE DIAGNOSTIC RESULTS, PCV=1 page 0
  '0x1d': { cdb: b(0x1d, 0x04, 0, 0, 0, 0) }, // SEND DIAGNOSTIC, SELFTEST=1 (default self-test)
  '0x1e': { cdb: b(0x1e, 0, 0, 0, 0, 0) },
  '0x25': { cdb: b(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
  '0x28': { cdb: cdb10(0x28, 8, 1) },
  '0x2a': { cdb: cdb10(0x2a, 8, 1), io: { dataOut: block() } },
  '0x2e': { cdb: cdb10(0x2e, 8, 1), io: { dataOut: block() } },
  '0x2f': { cdb: cdb10(0x2f, 8, 1) },
  '0x34': { cdb: cdb10(0x34, 8, 1) },
  '0x35': { cdb: cdb10(0x35, 8, 1) },
  '0x37': { cdb: b(0x37, 0, 0, 0, 0, 0, 0, 0, 4, 0) },
  '0x41': { cdb: cdb10(0x41, 8, 2), io: { dataOut: block() } },
  '0x42': { cdb: b(0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
  '0x4c': { cdb: b(0x4c, 0x02, 0, 0, 0, 0, 0, 0, 0, 0) }, // LOG SELECT, PCR=1 (a reset: nothing to reset)
  '0x4d': { cdb: b(0x4d, 0, 0x4d, 0, 0, 0, 0, 0x01, 0, 0) }, // LOG SENSE, cumulative temperature page
  '0x55': { cdb: b(0x55, 0x10, 0, 0, 0, 0, 0, 0, 0, 0) },
  '0x56': { cdb: b(0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0) }, // RESERVE(10)
  '0x57': { cdb: b(0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0) }, // RELEASE(10)
  '0x5a': { cdb: b(0x5a, 0, 0x3f, 0, 0, 0, 0, 0x01, 0, 0) },
  '0x5e/0x00': { cdb: b(0x5e, 0, 0, 0, 0, 0, 0, 0, 0xff, 0), setup: registerBoth },
  '0x5e/0x01': { cdb: b(0x5e, 1, 0, 0, 0, 0, 0, 0, 0xff, 0), setup: reserveType1 },
  '0x5e/0x02': { cdb: b(0x5e, 2, 0, 0, 0, 0, 0, 0, 0xff, 0) },
  '0x5e/0x03': { cdb: b(0x5e, 3, 0, 0, 0, 0, 0, 0, 0xff, 0), setup: reserveType1 },
  '0x5f/0x00': { ...proutIo(0, 0, 0n, KEY1) },
  '0x5f/0x01': { ...proutIo(1, 0x01, KEY1, 0n), setup: registerBoth },
  '0x5f/0x02': { ...proutIo(2, 0x01, KEY1, 0n), setup: reserveType1 },
  '0x5f/0x03': { ...proutIo(3, 0, KEY1, 0n), setup: registerBoth },
  '0x5f/0x04': { ...proutIo(4, 0x01, KEY1, KEY2), setup: registerBoth },
  '0x5f/0x05': { ...proutIo(5, 0x01, KEY1, KEY2), setup: registerBoth },
  '0x5f/0x06': { ...proutIo(6, 0, 0n, KEY1) },
  '0x5f/0x07': { ...registerAndMoveIo(), setup: reserveType1 }, // nexus 1 moves its reservation to nexus 2
  '0x83/0x00': { cdb: xcopyCdb(76), io: { dataOut: xcopyList(1, 0, 16, 1) } },
  '0x84/0x00': {
    cdb: b(0x84, 0x00, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0),
    setup: async (lu) => {
      await lu.run(xcopyCdb(76), { dataOut: xcopyList(7, 0, 16, 1) });
    },
  },
  '0x84/0x03': { cdb: b(0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0) },
  '0x88': { cdb: cdb16(0x88, 8, 1) },
  '0x89': {
    cdb: b(0x89, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0),
    io: { dataOut: Buffer.concat([Buffer.alloc(BS), block()]) },
  },
  '0x8a': { cdb: cdb16(0x8a, 8, 1), io: { dataOut: block() } },
  '0x8b': { cdb: cdb16(0x8b, 8, 1), io: { dataOut: block() } },
  '0x8e': { cdb: cdb16(0x8e, 8, 1), io: { dataOut: block() } },
  '0x8f': { cdb: cdb16(0x8f, 8, 1) },
  '0x90': { cdb: cdb16(0x90, 8, 1) },
  '0x91': { cdb: cdb16(0x91, 8, 1) },
  '0x93': { cdb: cdb16(0x93, 8, 2), io: { dataOut: block() } },
  '0x9e/0x10': { cdb: b(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0) },
  '0x9e/0x12': { cdb: b(0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0) },
  '0xa0': { cdb: b(0xa0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0) },
  '0xa3/0x0a': { cdb: b(0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0) }, // REPORT TARGET PORT GROUPS
  '0xa3/0x0c': { cdb: b(0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0) },
  '0xa3/0x0d': { cdb: b(0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0) },
  // SET TARGET PORT GROUPS: one descriptor, our group (1) to active/optimized (the state it is in).
  '0xa4/0x0a': {
    cdb: b(0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0),
    io: { dataOut: b(0, 0, 0, 0, 0x00, 0, 0, 1) },
  },
  '0xa8': { cdb: cdb12(0xa8, 8, 1) },
  '0xaa': { cdb: cdb12(0xaa, 8, 1), io: { dataOut: block() } },
  '0xae': { cdb: cdb12(0xae, 8, 1), io: { dataOut: block() } },
  '0xaf': { cdb: cdb12(0xaf, 8, 1) },
  '0xb7': { cdb: b(0xb7, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0) },
};

/** REGISTER AND MOVE from nexus 1 (KEY1, the holder) to initiator init2 through relative port 1. */
function registerAndMoveIo(): Baseline {
  const tid = encodeIscsiTransportId(nexus(2).initiatorName); // format 00b: every port of init2
  const dataOut = Buffer.alloc(24 + tid.length);
  dataOut.writeBigUInt64BE(KEY1, 0);
  dataOut.writeBigUInt64BE(KEY2, 8);
  dataOut.writeUInt16BE(1, 18); // RELATIVE TARGET PORT IDENTIFIER
  dataOut.writeUInt32BE(tid.length, 20);
  tid.copy(dataOut, 24);
  return { cdb: b(0x5f, 0x07, 0x01, 0, 0, 0, 0, 0, dataOut.length, 0), io: { dataOut } };
}

function proutIo(sa: number, type: number, key: bigint, sark: bigint): Baseline {
  const p = prout(sa, type, key, sark);
  return { cdb: p.cdb, io: { dataOut: p.dataOut } };
}

/** Opcodes whose byte 1 bits 4-0 are a SERVICE ACTION (not usage bits). */
const withServiceAction = (cmds: SupportedCommand[], op: number): boolean =>
  cmds.some((c) => c.op === op && c.sa !== undefined);

/** The LU configurations every table runs over. */
const CONFIGS: { name: string; alua?: AluaMode }[] = [
  { name: 'ALUA off' },
  { name: 'ALUA implicit', alua: 'implicit' },
  { name: 'ALUA both', alua: 'both' },
];

/** LU parameters of a configuration: a fresh port group per LU, so no LU sees another's changes. */
function configParams(cfg: { alua?: AluaMode }): Partial<DiskParams> {
  if (!cfg.alua) return {};
  const alua = new AluaPortGroup();
  alua.setMode(cfg.alua);
  return { alua };
}

async function baselineLu(
  base: Baseline,
  cfg: { alua?: AluaMode },
  senseFormat: 'fixed' | 'descriptor' = 'fixed',
): Promise<Lu> {
  const lu = await makeLu({ ...configParams(cfg), senseFormat });
  if (base.setup) await base.setup(lu);
  return lu;
}

for (const cfg of CONFIGS)
  t.test(`every supported command has a GOOD baseline CDB (${cfg.name})`, async (t) => {
    const cmds = await supportedCommands(await makeLu(configParams(cfg)));
    t.ok(cmds.length >= 50, `${cmds.length} commands reported`);
    const aluaRows = cmds.filter((c) => (c.op === 0xa3 || c.op === 0xa4) && c.sa === 0x0a).map(nameOf);
    t.same(
      aluaRows,
      cfg.alua === 'both' ? ['0xa3/0x0a', '0xa4/0x0a'] : cfg.alua ? ['0xa3/0x0a'] : [],
      'REPORT/SET TARGET PORT GROUPS listed as the ALUA mode says',
    );
    for (const c of cmds) {
      const base = BASELINES[nameOf(c)];
      if (!t.ok(base, `${nameOf(c)} has a baseline in BASELINES (add one for a new command)`)) continue;
      t.equal(base.cdb.length, c.usage.length, `${nameOf(c)}: baseline is as long as its CDB usage data`);
      const lu = await baselineLu(base, cfg);
      t.equal(code(await lu.run(base.cdb, base.io)), GOOD, `${nameOf(c)} baseline is GOOD`);
    }
  });

for (const cfg of CONFIGS)
  t.test(
    `each unused CDB bit, set alone, is INVALID FIELD IN CDB at that bit and changes nothing (${cfg.name})`,
    async (t) => {
      const cmds = await supportedCommands(await makeLu(configParams(cfg)));
      let cases = 0;
      const failures: string[] = [];
      for (const c of cmds) {
        const base = BASELINES[nameOf(c)];
        if (!base) continue; // reported by the baseline test
        const saByte = withServiceAction(cmds, c.op);
        for (let byte = 1; byte < c.usage.length; byte++) {
          const unused = ~c.usage[byte] & (saByte && byte === 1 ? 0xe0 : 0xff);
          for (let bit = 0; bit < 8; bit++) {
            if (!(unused & (1 << bit))) continue;
            if (base.cdb[byte] & (1 << bit)) continue; // not a baseline (all unused bits are 0 there)
            // Alternate the sense format so both carry the field pointer.
            const lu = await baselineLu(base, cfg, cases % 2 ? 'descriptor' : 'fixed');
            const before = lu.snapshot();
            const cdb = Buffer.from(base.cdb);
            cdb[byte] |= 1 << bit;
            const r = await lu.run(cdb, base.io);
            const s = senseOf(r);
            const where = `${nameOf(c)} byte ${byte} bit ${bit}`;
            cases++;
            if (code(r) !== INVALID_FIELD_IN_CDB) failures.push(`${where}: ${code(r)}`);
            else if (!s?.field) failures.push(`${where}: no field pointer`);
            else if (!s.field.inCdb || s.field.byte !== byte)
              failures.push(`${where}: points at ${JSON.stringify(s.field)}`);
            else if (s.field.bit !== undefined && s.field.bit < bit)
              failures.push(`${where}: bit pointer ${s.field.bit}`);
            if (lu.snapshot() !== before) failures.push(`${where}: state changed`);
          }
        }
      }
      t.ok(cases > 1000, `${cases} single-bit cases`);
      t.same(failures, [], 'every case rejected at the right bit');
    },
  );

for (const cfg of CONFIGS)
  t.test(`NACA and LINK in the CONTROL byte are rejected for every command (${cfg.name})`, async (t) => {
    const cmds = await supportedCommands(await makeLu(configParams(cfg)));
    for (const c of cmds) {
      const base = BASELINES[nameOf(c)];
      if (!base) continue;
      const ctl = c.usage.length - 1;
      for (const [name, bit] of [
        ['NACA', 2],
        ['LINK', 0],
      ] as const) {
        const lu = await baselineLu(base, cfg);
        const cdb = Buffer.from(base.cdb);
        cdb[ctl] |= 1 << bit;
        const r = await lu.run(cdb, base.io);
        t.equal(code(r), INVALID_FIELD_IN_CDB, `${nameOf(c)} ${name}`);
        t.match(senseOf(r)?.field, { inCdb: true, byte: ctl }, `${nameOf(c)} ${name} points at CONTROL`);
      }
    }
  });

for (const cfg of CONFIGS)
  for (const thin of [true, false])
    t.test(
      `unlisted opcodes and service actions (${thin ? 'thin' : 'thick'} LU, ${cfg.name}); the LU keeps serving`,
      async (t) => {
        const probe = await makeLu({ ...configParams(cfg), thinProvisioning: thin });
        const cmds = await supportedCommands(probe);
        t.equal(
          cmds.some((c) => c.op === 0x42),
          thin,
          `UNMAP ${thin ? 'is' : 'is not'} listed`,
        );
        const lu = await makeLu({ ...configParams(cfg), thinProvisioning: thin });
        const before = lu.snapshot();
        const unexpected: string[] = [];
        let unknownOps = 0;
        let unknownSas = 0;
        for (let op = 0; op < 256; op++) {
          const listed = cmds.filter((c) => c.op === op);
          if (withServiceAction(cmds, op)) {
            for (let sa = 0; sa < 32; sa++) {
              if (listed.some((c) => c.sa === sa)) continue;
              // REPORT SUPPORTED OPERATION CODES agrees it is not supported ...
              const q = await lu.run([0xa3, 0x0c, 0x02, op, 0, sa, 0, 0, 0, 64, 0, 0]);
              if (code(q) !== GOOD || (q.dataIn![1] & 0x07) !== 0x01)
                unexpected.push(`RSOC ${op}/${sa}: ${code(q)}`);
              // ... and the command is INVALID FIELD IN CDB at the SERVICE ACTION field, whatever else the CDB holds.
              for (const fill of [0x00, 0xff]) {
                const cdb = Buffer.alloc(16, fill);
                cdb[0] = op;
                cdb[1] = sa;
                const r = await lu.run(cdb, { dataOut: Buffer.alloc(64) });
                const f = senseOf(r)?.field;
                if (
                  code(r) !== INVALID_FIELD_IN_CDB ||
                  !f ||
                  f.byte !== 1 ||
                  (f.bit !== undefined && f.bit !== 4)
                )
                  unexpected.push(`${op}/${sa} fill ${fill}: ${code(r)} ${JSON.stringify(f)}`);
              }
              unknownSas++;
            }
            continue;
          }
          if (listed.length) continue;
          const q = await lu.run([0xa3, 0x0c, 0x01, op, 0, 0, 0, 0, 0, 64, 0, 0]);
          if (code(q) !== GOOD || (q.dataIn![1] & 0x07) !== 0x01) unexpected.push(`RSOC ${op}: ${code(q)}`);
          for (const fill of [0x00, 0xff]) {
            const cdb = Buffer.alloc(16, fill);
            cdb[0] = op;
            for (const io of [{}, { dataOut: Buffer.alloc(BS) }]) {
              const r = await lu.run(cdb, io);
              if (code(r) !== INVALID_OPCODE) unexpected.push(`${op} fill ${fill}: ${code(r)}`);
            }
          }
          unknownOps++;
        }
        t.ok(unknownOps > 150, `${unknownOps} unlisted opcodes`);
        t.ok(unknownSas > 100, `${unknownSas} unlisted service actions`);
        t.same(unexpected, [], 'every one answered as SPC-4 says');
        t.equal(lu.snapshot(), before, 'no medium, reservation or mode change');
        t.equal(
          code(await lu.run([0x00, 0, 0, 0, 0, 0])),
          GOOD,
          'TEST UNIT READY: no unit attention left behind',
        );
        const w = await lu.run(cdb10(0x2a, BLOCKS - 1, 1), { dataOut: Buffer.alloc(BS, 0x77) });
        t.equal(code(w), GOOD, 'WRITE still works');
        const r = await lu.run(cdb10(0x28, BLOCKS - 1, 1));
        t.equal(code(r), GOOD, 'READ still works');
        t.same(r.dataIn, Buffer.alloc(BS, 0x77), 'and reads back what was written');
      },
    );

for (const cfg of CONFIGS)
  t.test(
    `supported opcodes with an all-zero CDB are never INVALID COMMAND OPERATION CODE (${cfg.name})`,
    async (t) => {
      const cmds = await supportedCommands(await makeLu(configParams(cfg)));
      for (const c of cmds) {
        const lu = await makeLu(configParams(cfg));
        const cdb = Buffer.alloc(16);
        cdb[0] = c.op;
        if (c.sa !== undefined) cdb[1] = c.sa;
        const r = await lu.run(cdb);
        t.not(code(r), INVALID_OPCODE, `${nameOf(c)}: ${code(r)}`);
        t.not(senseOf(r)?.key, 0x04, `${nameOf(c)}: no HARDWARE ERROR`);
      }
    },
  );
