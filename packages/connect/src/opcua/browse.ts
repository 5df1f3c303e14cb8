import { GembaError } from '@gemba/core';
import {
  AttributeIds,
  BrowseDirection,
  type ClientSession,
  DataType,
  type DataValue,
  NodeClass,
  type NodeId,
  OPCUAClient,
  type ReferenceDescription,
  resolveNodeId,
} from 'node-opcua-client';
import { type OpcuaConnectionSettings, opcuaClientOptions, userIdentity } from './config.ts';

/** A variable found by {@link browseServer}. */
export interface BrowsedVariable {
  /** The node id to put in a binding, e.g. `ns=1;s=press.state`. */
  nodeId: string;
  /** Browse names from the Objects folder, e.g. `Objects/1:Press/1:state`. */
  browsePath: string;
  displayName: string;
  /** The data type's name (`Double`, `UInt32`, `Boolean` ...). */
  dataType: string;
  /** The EngineeringUnits property's display name (`°C`), when the variable has one. */
  unit?: string;
  /** True when the variable's access level allows writes. */
  writable: boolean;
}

/** Options of {@link browseServer}. */
export type BrowseOptions = Partial<OpcuaConnectionSettings> & {
  pkiDir: string;
  /** Start node (default the Objects folder, `ns=0;i=85`). */
  root?: string;
  /** Stop after this many nodes (default 5 000). */
  maxNodes?: number;
};

const SERVER_OBJECT = 'ns=0;i=2253';

/**
 * Browses an OPC UA server's address space below the Objects folder (skipping the standard
 * Server object) and lists every variable with its node id, data type, unit and writability:
 * what one needs to write bindings. Used by `gemba connect browse`.
 * @throws GembaError GEMBA_CONNECT_UNAVAILABLE when the server cannot be reached or refuses the session.
 */
export async function browseServer(endpoint: string, options: BrowseOptions): Promise<BrowsedVariable[]> {
  const opts = await opcuaClientOptions({ ...options, pkiDir: options.pkiDir });
  opts.connectionStrategy = { maxRetry: 1, initialDelay: 200, maxDelay: 1000 };
  const client = OPCUAClient.create(opts);
  let session: ClientSession | undefined;
  try {
    await client.connect(endpoint);
    session = await client.createSession(userIdentity({ ...options, pkiDir: options.pkiDir }));
    return await walk(session, options.root ?? 'ns=0;i=85', options.maxNodes ?? 5000);
  } catch (err: unknown) {
    throw new GembaError(
      'GEMBA_CONNECT_UNAVAILABLE',
      `cannot browse ${endpoint}: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
        details: { endpoint },
      },
    );
  } finally {
    await session?.close().catch(() => undefined);
    await client.disconnect().catch(() => undefined);
  }
}

async function walk(session: ClientSession, root: string, maxNodes: number): Promise<BrowsedVariable[]> {
  const out: BrowsedVariable[] = [];
  const seen = new Set<string>([root]);
  let frontier: { nodeId: string; path: string }[] = [{ nodeId: root, path: 'Objects' }];
  const typeNames = new Map<string, string>();
  while (frontier.length > 0 && seen.size < maxNodes) {
    const results = await session.browse(
      frontier.map((f) => ({
        nodeId: f.nodeId,
        browseDirection: BrowseDirection.Forward,
        referenceTypeId: 'HierarchicalReferences',
        includeSubtypes: true,
        nodeClassMask: NodeClass.Object | NodeClass.Variable,
        resultMask: 63,
      })),
    );
    const next: { nodeId: string; path: string }[] = [];
    const variables: { ref: ReferenceDescription; path: string }[] = [];
    results.forEach((r, i) => {
      for (const ref of r.references ?? []) {
        const id = ref.nodeId.toString();
        if (seen.has(id) || id === SERVER_OBJECT || seen.size >= maxNodes) continue;
        seen.add(id);
        const path = `${frontier[i]?.path}/${ref.browseName.toString()}`;
        if (ref.nodeClass === NodeClass.Variable) variables.push({ ref, path });
        // Variables can have children too (properties, components of structured variables).
        if (ref.nodeClass === NodeClass.Object || ref.nodeClass === NodeClass.Variable)
          next.push({ nodeId: id, path });
      }
    });
    if (variables.length > 0) out.push(...(await describeVariables(session, variables, typeNames)));
    frontier = next;
  }
  // Properties such as EngineeringUnits are metadata, not signals.
  return out.filter(
    (v) => !/\/(0:)?(EngineeringUnits|EURange|InstrumentRange|Definition|ValuePrecision)$/.test(v.browsePath),
  );
}

async function describeVariables(
  session: ClientSession,
  vars: { ref: ReferenceDescription; path: string }[],
  typeNames: Map<string, string>,
): Promise<BrowsedVariable[]> {
  const reads = vars.flatMap(({ ref }) => [
    { nodeId: ref.nodeId, attributeId: AttributeIds.DataType },
    { nodeId: ref.nodeId, attributeId: AttributeIds.AccessLevel },
  ]);
  const values = await session.read(reads);
  // Units: the EngineeringUnits property of each variable (OPC UA Part 8 §5.6.3).
  const props = await session.translateBrowsePath(
    vars.map(({ ref }) => ({
      startingNode: ref.nodeId,
      relativePath: {
        elements: [
          {
            referenceTypeId: resolveNodeId('HasProperty'),
            isInverse: false,
            includeSubtypes: true,
            targetName: { namespaceIndex: 0, name: 'EngineeringUnits' },
          },
        ],
      },
    })),
  );
  const unitNodes = props.map((p) => p.targets?.[0]?.targetId);
  const unitReads = unitNodes.filter((n) => n !== undefined && n !== null) as NodeId[];
  const unitValues: DataValue[] =
    unitReads.length > 0
      ? await session.read(unitReads.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })))
      : [];
  let u = 0;
  const out: BrowsedVariable[] = [];
  for (let i = 0; i < vars.length; i++) {
    const { ref, path } = vars[i] as { ref: ReferenceDescription; path: string };
    const dtNode = values[2 * i]?.value.value as NodeId | null | undefined;
    const access = Number(values[2 * i + 1]?.value.value ?? 0);
    let unit: string | undefined;
    if (unitNodes[i] !== undefined && unitNodes[i] !== null) {
      const eu = unitValues[u++]?.value.value as
        | { displayName?: { text?: string | null } }
        | null
        | undefined;
      const text = eu?.displayName?.text;
      if (typeof text === 'string' && text.length > 0) unit = text;
    }
    const v: BrowsedVariable = {
      nodeId: ref.nodeId.toString(),
      browsePath: path,
      displayName: ref.displayName.text ?? ref.browseName.name ?? '',
      dataType: await typeName(session, dtNode, typeNames),
      writable: (access & 0x02) !== 0,
    };
    if (unit !== undefined) v.unit = unit;
    out.push(v);
  }
  return out;
}

async function typeName(
  session: ClientSession,
  node: NodeId | null | undefined,
  cache: Map<string, string>,
): Promise<string> {
  if (node === null || node === undefined) return 'unknown';
  const key = node.toString();
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  let name: string;
  if (node.namespace === 0 && typeof node.value === 'number' && DataType[node.value] !== undefined) {
    name = DataType[node.value] as string;
  } else {
    const dv = await session.read({ nodeId: node, attributeId: AttributeIds.BrowseName });
    name = (dv.value.value as { name?: string } | null)?.name ?? key;
  }
  cache.set(key, name);
  return name;
}
