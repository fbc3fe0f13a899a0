#!/usr/bin/env node
// tgtadm: administer a running tgtd, with tgt's options, messages and exit codes
// (0 ok; 22 refused, "tgtadm: <reason>" on stderr; 107 when tgtd does not answer).
import { MgmtConnectError, sendMgmtRequest } from '../admin/mgmt-client';
import { controlSocketPath } from '../admin/mgmt-server';
import { parseTgtadmArgs } from '../admin/tgtadm-args';

const ENOTCONN = 107;

async function main(): Promise<number> {
  const parsed = parseTgtadmArgs(process.argv.slice(2));
  if (parsed.kind === 'exit') {
    process.stdout.write(parsed.stdout);
    process.stderr.write(parsed.stderr);
    return parsed.code;
  }
  try {
    const rsp = await sendMgmtRequest(
      controlSocketPath(parsed.controlPort, { create: false }),
      parsed.request,
    );
    if (rsp.code !== 0) {
      process.stderr.write(`tgtadm: ${rsp.error ?? 'unknown error'}\n`);
      return rsp.code;
    }
    if (rsp.output) process.stdout.write(rsp.output);
    return 0;
  } catch (err) {
    if (err instanceof MgmtConnectError) {
      process.stderr.write(`tgtadm: ${err.message}\n`);
      return ENOTCONN;
    }
    process.stderr.write(`tgtadm: ${(err as Error).message}\n`);
    return 22;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`tgtadm: ${err.message}\n`);
    process.exitCode = 1;
  },
);
