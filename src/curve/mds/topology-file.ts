// The cluster topology file (JSON) read by `curve topology apply`: pools, zones, servers and logical
// pools. Parsing is strict; applying is a plan of the creations still missing, so it can be re-run
// (e.g. once before and once after chunkservers registered, for the logical pools).

export interface TopologyFile {
  physicalPools: { name: string; desc?: string }[];
  zones: { name: string; physicalPool: string; desc?: string }[];
  servers: {
    name: string;
    internalIp: string;
    internalPort: number;
    externalIp?: string;
    externalPort?: number;
    zone: string;
    physicalPool: string;
    desc?: string;
  }[];
  logicalPools: {
    name: string;
    physicalPool: string;
    replicaNum?: number;
    copysetNum: number;
    zoneNum?: number;
  }[];
}

function fail(msg: string): never {
  throw new Error(`topology file: ${msg}`);
}

function list(obj: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = obj[key] ?? [];
  if (!Array.isArray(v) || v.some((e) => !e || typeof e !== 'object' || Array.isArray(e)))
    fail(`'${key}' must be a list of objects`);
  return v as Record<string, unknown>[];
}

function field<T extends 'string' | 'number'>(
  o: Record<string, unknown>,
  key: string,
  type: T,
  where: string,
  optional = false,
): (T extends 'string' ? string : number) | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== type || (type === 'number' && !Number.isInteger(v)) || v === '')
    fail(`${where}: '${key}' must be a${type === 'number' ? 'n integer' : ' non-empty string'}`);
  return v as T extends 'string' ? string : number;
}

export function parseTopologyFile(text: string): TopologyFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(`not valid JSON: ${(err as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('top level must be an object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['physicalPools', 'zones', 'servers', 'logicalPools'].includes(k)) fail(`unknown key '${k}'`);
  const file: TopologyFile = {
    physicalPools: list(o, 'physicalPools').map((p, i) => ({
      name: field(p, 'name', 'string', `physicalPools[${i}]`)!,
      desc: field(p, 'desc', 'string', `physicalPools[${i}]`, true),
    })),
    zones: list(o, 'zones').map((z, i) => ({
      name: field(z, 'name', 'string', `zones[${i}]`)!,
      physicalPool: field(z, 'physicalPool', 'string', `zones[${i}]`)!,
      desc: field(z, 'desc', 'string', `zones[${i}]`, true),
    })),
    servers: list(o, 'servers').map((s, i) => ({
      name: field(s, 'name', 'string', `servers[${i}]`)!,
      internalIp: field(s, 'internalIp', 'string', `servers[${i}]`)!,
      internalPort: field(s, 'internalPort', 'number', `servers[${i}]`)!,
      externalIp: field(s, 'externalIp', 'string', `servers[${i}]`, true),
      externalPort: field(s, 'externalPort', 'number', `servers[${i}]`, true),
      zone: field(s, 'zone', 'string', `servers[${i}]`)!,
      physicalPool: field(s, 'physicalPool', 'string', `servers[${i}]`)!,
      desc: field(s, 'desc', 'string', `servers[${i}]`, true),
    })),
    logicalPools: list(o, 'logicalPools').map((l, i) => ({
      name: field(l, 'name', 'string', `logicalPools[${i}]`)!,
      physicalPool: field(l, 'physicalPool', 'string', `logicalPools[${i}]`)!,
      replicaNum: field(l, 'replicaNum', 'number', `logicalPools[${i}]`, true),
      copysetNum: field(l, 'copysetNum', 'number', `logicalPools[${i}]`)!,
      zoneNum: field(l, 'zoneNum', 'number', `logicalPools[${i}]`, true),
    })),
  };
  const pools = new Set(file.physicalPools.map((p) => p.name));
  const zones = new Set(file.zones.map((z) => `${z.physicalPool}/${z.name}`));
  for (const z of file.zones)
    if (!pools.has(z.physicalPool)) fail(`zone '${z.name}': unknown physical pool '${z.physicalPool}'`);
  for (const s of file.servers)
    if (!zones.has(`${s.physicalPool}/${s.zone}`))
      fail(`server '${s.name}': unknown zone '${s.zone}' in '${s.physicalPool}'`);
  for (const l of file.logicalPools)
    if (!pools.has(l.physicalPool))
      fail(`logical pool '${l.name}': unknown physical pool '${l.physicalPool}'`);
  return file;
}

export type ApplyAction =
  | { kind: 'CreatePhysicalPool'; req: { physicalPoolName: string; desc: string } }
  | { kind: 'CreateZone'; req: { zoneName: string; physicalPoolName: string; desc: string } }
  | { kind: 'RegistServer'; req: Record<string, unknown> }
  | { kind: 'CreateLogicalPool'; req: Record<string, unknown> };

export interface CurrentTopology {
  physicalPools: string[];
  zones: string[]; // "pool/zone"
  servers: string[]; // host names
  logicalPools: string[];
}

/** The creations still missing, in dependency order. */
export function planTopologyApply(file: TopologyFile, cur: CurrentTopology): ApplyAction[] {
  const actions: ApplyAction[] = [];
  for (const p of file.physicalPools)
    if (!cur.physicalPools.includes(p.name))
      actions.push({ kind: 'CreatePhysicalPool', req: { physicalPoolName: p.name, desc: p.desc ?? '' } });
  for (const z of file.zones)
    if (!cur.zones.includes(`${z.physicalPool}/${z.name}`))
      actions.push({
        kind: 'CreateZone',
        req: { zoneName: z.name, physicalPoolName: z.physicalPool, desc: z.desc ?? '' },
      });
  for (const s of file.servers)
    if (!cur.servers.includes(s.name))
      actions.push({
        kind: 'RegistServer',
        req: {
          hostName: s.name,
          internalIp: s.internalIp,
          internalPort: s.internalPort,
          externalIp: s.externalIp ?? s.internalIp,
          externalPort: s.externalPort ?? s.internalPort,
          zoneName: s.zone,
          physicalPoolName: s.physicalPool,
          desc: s.desc ?? '',
        },
      });
  for (const l of file.logicalPools)
    if (!cur.logicalPools.includes(l.name))
      actions.push({
        kind: 'CreateLogicalPool',
        req: {
          logicalPoolName: l.name,
          physicalPoolName: l.physicalPool,
          replicaNum: l.replicaNum ?? 3,
          copysetNum: l.copysetNum,
          zoneNum: l.zoneNum ?? l.replicaNum ?? 3,
          type: 0,
        },
      });
  return actions;
}
