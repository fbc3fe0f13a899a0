// The daemon-side failures of a management request, with tgt's exact texts (usr/tgtadm.c
// tgtadm_strerror). The model throws TgtError; the management server turns it into a response.

export const enum TgtErrno {
  UnknownErr = 1,
  NoMem = 2,
  NoDriver = 3,
  NoTarget = 4,
  NoLun = 5,
  NoSession = 6,
  NoConnection = 7,
  TargetExist = 8,
  LunExist = 9,
  AclExist = 10,
  AclNoExist = 11,
  UserExist = 12,
  NoUser = 13,
  TooManyUser = 14,
  InvalidRequest = 15,
  OutAccountExist = 16,
  TargetActive = 17,
  LunActive = 18,
  UnsupportedOperation = 19,
  UnknownParam = 20,
  DriverBusy = 21,
}

const texts: Record<TgtErrno, string> = {
  [TgtErrno.UnknownErr]: 'unknown error',
  [TgtErrno.NoMem]: 'out of memory',
  [TgtErrno.NoDriver]: "can't find the driver",
  [TgtErrno.NoTarget]: "can't find the target",
  [TgtErrno.NoLun]: "can't find the logical unit",
  [TgtErrno.NoSession]: "can't find the session",
  [TgtErrno.NoConnection]: "can't find the connection",
  [TgtErrno.TargetExist]: 'this target already exists',
  [TgtErrno.LunExist]: 'this logical unit number already exists',
  [TgtErrno.AclExist]: 'this access control rule already exists',
  [TgtErrno.AclNoExist]: 'this access control rule does not exist',
  [TgtErrno.UserExist]: 'this account already exists',
  [TgtErrno.NoUser]: "can't find the account",
  [TgtErrno.TooManyUser]: 'too many accounts',
  [TgtErrno.InvalidRequest]: 'invalid request',
  [TgtErrno.OutAccountExist]: 'this target already has an outgoing account',
  [TgtErrno.TargetActive]: 'this target is still active',
  [TgtErrno.LunActive]: 'this logical unit is still active',
  [TgtErrno.UnsupportedOperation]: "this operation isn't supported",
  [TgtErrno.UnknownParam]: 'unknown parameter',
  [TgtErrno.DriverBusy]: 'this driver is busy',
};

export function tgtErrorText(errno: TgtErrno): string {
  return texts[errno];
}

export class TgtError extends Error {
  constructor(
    readonly errno: TgtErrno,
    /** Why, for the daemon's log (the client only sees tgt's text). */
    readonly detail?: string,
  ) {
    super(texts[errno]);
    this.name = 'TgtError';
  }
}
