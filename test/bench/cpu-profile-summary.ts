// Where a process spent its CPU: a V8 .cpuprofile (node --cpu-prof) reduced to self time per function and
// per source file. Pure: profile JSON in, sorted figures out.

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  wallMs: number;
  /** Sampled time that was not "(idle)". */
  busyMs: number;
  functions: SelfTime[];
  files: SelfTime[];
}

/** A short, stable label for a source URL: dist paths lose their prefix, node internals keep `node:`. */
export function fileLabel(url: string): string {
  if (!url) return '(native)';
  const dist = /\/dist\/(src|test)\/(.*)\.js$/.exec(url);
  if (dist) return `${dist[1]}/${dist[2]}.ts`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (mod) return `npm:${mod[1]}`;
  return url.replace(/^file:\/\//, '');
}

export function summarizeCpuProfile(p: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Time per node: the sum of the deltas of its samples (falls back to hitCount x mean interval).
  const selfUs = new Map<number, number>();
  if (p.samples && p.timeDeltas && p.samples.length === p.timeDeltas.length) {
    for (let i = 0; i < p.samples.length; i++) {
      // timeDeltas[i] is the gap before sample i; attribute it to the sample that follows.
      const dt = Math.max(0, p.timeDeltas[i]);
      selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + dt);
    }
  } else {
    const hits = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
    const interval = hits ? (p.endTime - p.startTime) / hits : 0;
    for (const n of p.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * interval);
  }
  const parent = new Map<number, CpuProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n || us === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const label = fileLabel(url);
    const special = functionName.startsWith('(') && !url;
    // A native function (a syscall binding such as writeBuffer) is named with its JavaScript caller,
    // which tells a file write from a socket write.
    const caller = !url && !special ? parent.get(id)?.callFrame : undefined;
    const key = special
      ? functionName
      : caller
        ? `${functionName} (native) <- ${caller.functionName || '(anonymous)'} ${fileLabel(caller.url)}:${caller.lineNumber + 1}`
        : `${functionName || '(anonymous)'} ${label}:${lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const fkey = special ? functionName : label;
    file.set(fkey, (file.get(fkey) ?? 0) + us);
  }
  const rank = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy ? us / busy : 0 }));
  return {
    wallMs: (p.endTime - p.startTime) / 1000,
    busyMs: busy / 1000,
    functions: rank(fn),
    files: rank(file),
  };
}

export function formatProfileSummary(label: string, s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`.padStart(6);
  const lines = [
    `${label}: busy ${(s.busyMs / 1000).toFixed(1)} s of ${(s.wallMs / 1000).toFixed(1)} s sampled`,
    '  by file (self time):',
    ...s.files.map((f) => `    ${pct(f.share)}  ${f.name}`),
    '  by function (self time):',
    ...s.functions.map((f) => `    ${pct(f.share)}  ${f.name}`),
  ];
  return lines.join('\n') + '\n';
}
