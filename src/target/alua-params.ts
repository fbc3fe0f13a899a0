// ALUA settings of a target as tgtadm sets and shows them: `--op update --mode target --tid N
// --name alua|alua_group|alua_state --value V`. Not in tgt: the names are ours, and `show` prints them
// only while ALUA is on, so tgt's parsers never see them on a default daemon.
import { aluaStateName, parseAluaMode, parseAluaState, type AluaPortGroup } from '../scsi/alua';
import { TgtErrno, TgtError } from './tgt-error';

export const ALUA_KEYS = ['alua', 'alua_group', 'alua_state'] as const;

export function isAluaKey(name: string): boolean {
  return (ALUA_KEYS as readonly string[]).includes(name);
}

/** Apply one setting; a bad value is tgt's "invalid request". */
export function updateAlua(g: AluaPortGroup, name: string, value: string): void {
  switch (name) {
    case 'alua': {
      const mode = parseAluaMode(value);
      if (mode === undefined) throw new TgtError(TgtErrno.InvalidRequest);
      g.setMode(mode);
      return;
    }
    case 'alua_group': {
      const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
      if (!(n >= 1 && n <= 0xffff)) throw new TgtError(TgtErrno.InvalidRequest);
      g.setGroup(n);
      return;
    }
    case 'alua_state': {
      const state = parseAluaState(value);
      if (state === undefined) throw new TgtError(TgtErrno.InvalidRequest);
      g.setState(state);
      return;
    }
    default:
      throw new TgtError(TgtErrno.InvalidRequest);
  }
}

/** `key=value` lines for `--op show --mode target --tid N`, empty while ALUA is off. */
export function showAluaParams(g: AluaPortGroup): string {
  if (!g.enabled) return '';
  return `alua=${g.mode}\nalua_group=${g.group}\nalua_state=${aluaStateName(g.state)}\n`;
}
