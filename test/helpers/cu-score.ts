// Scores a verbose iscsi-test-cu log exactly like shared/tools/cu-score.py: each test is passed,
// skipped (passed but printed [SKIPPED]) or failed. Pure: text in, verdicts out.

export type CuVerdict = 'passed' | 'skipped' | 'failed';

export interface CuScore {
  /** `Suite.Test` -> verdict, in first-seen order. */
  results: Map<string, CuVerdict>;
  passed: number;
  skipped: number;
  failed: number;
  total: number;
}

// Python's str.splitlines() boundaries.
const LINE_BREAKS = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;

export function scoreCuLog(text: string): CuScore {
  const lines = text.split(LINE_BREAKS);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const results = new Map<string, CuVerdict>();
  let suite: string | undefined;
  let cur: string | undefined;
  let skipped = false;
  for (const line of lines) {
    const suiteMatch = /^Suite: (\S+)/.exec(line);
    if (suiteMatch) {
      suite = suiteMatch[1];
      continue;
    }
    const testMatch = /^\s+Test: (.+?) \.\.\.(.*)$/.exec(line);
    if (testMatch) {
      cur = `${suite ?? 'None'}.${testMatch[1]}`;
      skipped = false;
      const rest = testMatch[2];
      if (rest.includes('SKIPPED')) skipped = true;
      if (rest.trim().endsWith('passed')) {
        results.set(cur, skipped ? 'skipped' : 'passed');
        cur = undefined;
      } else if (rest.includes('FAILED')) {
        results.set(cur, 'failed');
        cur = undefined;
      }
      continue;
    }
    if (cur !== undefined) {
      if (line.includes('[SKIPPED]')) skipped = true;
      const s = line.trim();
      if (s.endsWith('passed')) {
        results.set(cur, skipped ? 'skipped' : 'passed');
        cur = undefined;
      } else if (s.endsWith('FAILED')) {
        results.set(cur, 'failed');
        cur = undefined;
      }
    }
  }
  const count = (v: CuVerdict): number => [...results.values()].filter((x) => x === v).length;
  return {
    results,
    passed: count('passed'),
    skipped: count('skipped'),
    failed: count('failed'),
    total: results.size,
  };
}

/**
 * When a LUN lacks PERSISTENT RESERVE IN, libiscsi's per-test clean-up prints a `[SKIPPED]` note
 * right after CUnit's "passed"/"FAILED" on the same line, which hides that test's verdict from the
 * scorer. Moving such notes to their own line restores it. (An addition to cu-score.py's logic;
 * logs without such lines are unchanged.)
 */
export function separateTrailingSkipNotes(text: string): string {
  return text.replace(/^(.*?(?:passed|FAILED))([ \t]+\[SKIPPED\])/gm, '$1\n$2');
}

/** The names with a given verdict, sorted like Python's sorted() on str. */
export function testsWithVerdict(score: CuScore, verdict: CuVerdict): string[] {
  return [...score.results]
    .filter(([, v]) => v === verdict)
    .map(([name]) => name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** cu-score.py's output: with list, `failed: X` then `skipped: X` lines, then the summary line. */
export function formatCuScore(score: CuScore, list = false): string {
  const out: string[] = [];
  if (list) {
    for (const verdict of ['failed', 'skipped'] as const) {
      for (const name of testsWithVerdict(score, verdict)) out.push(`${verdict}: ${name}`);
    }
  }
  out.push(`passed ${score.passed}, skipped ${score.skipped}, failed ${score.failed}, total ${score.total}`);
  return out.join('\n') + '\n';
}

/** CUnit's verdict per test: the `passed` / `FAILED` that ends its block (not libiscsi's `[FAILED]` log lines). */
export function cunitVerdicts(log: string): Map<string, 'passed' | 'FAILED'> {
  const out = new Map<string, 'passed' | 'FAILED'>();
  let suite = '';
  let cur: string | undefined;
  for (const raw of log.split(/\r?\n/)) {
    const line = raw.replace(/\[(SKIPPED|FAILED|OK|SUCCESS)\][^\n]*$/, '').trimEnd();
    const sm = /^Suite: (\S+)/.exec(raw);
    if (sm) {
      suite = sm[1];
      cur = undefined;
      continue;
    }
    const tm = /^\s+Test: (.+?) \.\.\.(.*)$/.exec(raw);
    if (tm) {
      cur = `${suite}.${tm[1]}`;
      const rest = tm[2].replace(/\[(SKIPPED|FAILED)\].*$/, '').trim();
      if (rest === 'passed' || rest === 'FAILED') {
        out.set(cur, rest);
        cur = undefined;
      }
      continue;
    }
    if (!cur) continue;
    const v = line.trim();
    const verdict = /^(passed|FAILED)\b/.exec(v)?.[1] ?? (v.endsWith(' passed') ? 'passed' : undefined);
    if (verdict === 'passed' || verdict === 'FAILED') {
      out.set(cur, verdict);
      cur = undefined;
    }
  }
  return out;
}
