import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger, Model, SampleBatch } from '@gemba/core';
import {
  DataType,
  DataValue,
  MessageSecurityMode,
  makeEUInformation,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type UAObject,
  type UAVariable,
  Variant,
} from 'node-opcua';

/** Options for {@link PlantOpcuaServer}. */
export interface PlantOpcuaServerOptions {
  model: Model;
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Folder for the server's PKI (certificates are generated there on first start). */
  pkiDir: string;
  /** The one user accepted besides anonymous access. */
  user: { username: string; password: string };
  logger: Logger;
  /** Called for a client's write to a writable variable; returns false to refuse it. */
  onWrite: (signal: string, value: number) => boolean;
  /** Current served value of a signal (for writable variables read on demand). */
  valueOf: (signal: string) => { value: number; ts: number } | undefined;
}

const RESOURCE_PATH = '/gemba';

/**
 * The press-and-weld PLC: an OPC UA server whose address space follows the ISA-95 hierarchy
 * (Objects/acme/plant1/assembly/line1/press/...), one variable per OPC UA binding of the model
 * with the binding's node id, engineering units and ranges, source timestamps from the
 * emulator's clock, and writable setpoints. Security None and Basic256Sha256 Sign&Encrypt;
 * anonymous and user/password access.
 */
export class PlantOpcuaServer {
  readonly #opts: PlantOpcuaServerOptions;
  #server: OPCUAServer | undefined;
  readonly #variables = new Map<string, { variable: UAVariable; dataType: DataType; bound: boolean }>();
  #suspended = false;

  constructor(options: PlantOpcuaServerOptions) {
    this.#opts = options;
  }

  /** The endpoint URL, e.g. `opc.tcp://127.0.0.1:48010/gemba`; valid after start. */
  get endpoint(): string {
    return `opc.tcp://127.0.0.1:${this.port}${RESOURCE_PATH}`;
  }

  /** The TCP port actually listened on; valid after start. */
  get port(): number {
    return this.#server?.endpoints[0]?.port ?? 0;
  }

  /** Builds the address space and starts listening. */
  async start(): Promise<void> {
    const { pkiDir, port, user } = this.#opts;
    await mkdir(pkiDir, { recursive: true });
    const serverCertificateManager = new OPCUACertificateManager({
      rootFolder: path.join(pkiDir, 'server'),
      automaticallyAcceptUnknownCertificate: true,
    });
    const userCertificateManager = new OPCUACertificateManager({
      rootFolder: path.join(pkiDir, 'user'),
      automaticallyAcceptUnknownCertificate: true,
    });
    await serverCertificateManager.initialize();
    await userCertificateManager.initialize();
    const server = new OPCUAServer({
      port,
      hostname: '127.0.0.1',
      alternateHostname: ['127.0.0.1'],
      resourcePath: RESOURCE_PATH,
      serverCertificateManager,
      userCertificateManager,
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
      allowAnonymous: true,
      userManager: {
        isValidUser: (username: string, password: string) =>
          username === user.username && password === user.password,
      },
      buildInfo: { productName: 'Gemba plant emulator', manufacturerName: 'Gemba' },
      serverInfo: { applicationUri: 'urn:gemba:plant-emulator', productUri: 'urn:gemba:plant-emulator' },
    });
    await server.initialize();
    this.#build(server);
    // Serve the current values from the first read on.
    for (const [signal, entry] of this.#variables) {
      const v = this.#opts.valueOf(signal);
      if (entry.bound || v === undefined || Number.isNaN(v.value)) continue;
      entry.variable.setValueFromSource(
        { dataType: entry.dataType, value: v.value },
        StatusCodes.Good,
        new Date(v.ts),
      );
    }
    await server.start();
    this.#server = server;
    this.#opts.logger.info({ endpoint: this.endpoint }, 'OPC UA server listening');
  }

  #build(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (addressSpace === null) throw new Error('OPC UA address space missing after initialize()');
    const ns = addressSpace.getOwnNamespace();
    const objects = addressSpace.rootFolder.objects;
    const { model } = this.#opts;
    const folders = new Map<string, UAObject>();
    const objectFor = (assetPath: string): UAObject => {
      const existing = folders.get(assetPath);
      if (existing !== undefined) return existing;
      const asset = model.asset(assetPath);
      const parentPath = asset?.parent;
      const name = assetPath.split('/').pop() ?? assetPath;
      const obj =
        parentPath === undefined
          ? ns.addObject({ organizedBy: objects, browseName: name, displayName: asset?.name ?? name })
          : ns.addObject({
              componentOf: objectFor(parentPath),
              browseName: name,
              displayName: asset?.name ?? name,
            });
      folders.set(assetPath, obj);
      return obj;
    };
    for (const b of model.bindings) {
      if (!('nodeId' in b)) continue;
      const signal = model.signal(b.signalPath);
      if (signal === undefined) continue;
      const parent = objectFor(signal.asset);
      const def = signal.def;
      const dataType =
        def.dataType === 'int' ? DataType.Int32 : def.dataType === 'uint' ? DataType.UInt32 : DataType.Double;
      const writable = def.writable === true;
      const common = {
        componentOf: parent,
        browseName: signal.name,
        nodeId: b.nodeId,
        description: def.description ?? `${signal.path}${def.unit === undefined ? '' : ` (${def.unit})`}`,
        accessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
        userAccessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
        minimumSamplingInterval: 100,
      } as const;
      let variable: UAVariable;
      if (dataType === DataType.Double && def.unit !== undefined) {
        const range = def.range ?? def.normal ?? { min: 0, max: 100 };
        variable = ns.addAnalogDataItem({
          ...common,
          dataType: 'Double',
          engineeringUnitsRange: { low: range.min ?? 0, high: range.max ?? 100 },
          engineeringUnits: makeEUInformation(def.unit, def.unit, def.unit),
        });
      } else {
        variable = ns.addVariable({ ...common, dataType });
      }
      if (writable) {
        const signalPath = signal.path;
        variable.bindVariable(
          {
            timestamped_get: () => {
              const v = this.#opts.valueOf(signalPath);
              return new DataValue({
                value: new Variant({ dataType, value: v === undefined ? 0 : v.value }),
                statusCode: v === undefined ? StatusCodes.BadWaitingForInitialData : StatusCodes.Good,
                sourceTimestamp: new Date(v?.ts ?? 0),
                serverTimestamp: new Date(),
              });
            },
            timestamped_set: async (dv: DataValue) => {
              const value = Number(dv.value.value);
              return this.#opts.onWrite(signalPath, value) ? StatusCodes.Good : StatusCodes.BadOutOfRange;
            },
          },
          true,
        );
      }
      this.#variables.set(signal.path, { variable, dataType, bound: writable });
    }
  }

  /** Serves the latest value of each signal in `batch` with its source timestamp. */
  update(batch: SampleBatch): void {
    for (let i = 0; i < batch.length; i++) {
      const entry = this.#variables.get(batch.signals[i] as string);
      // Writable variables are bound to the plant and read on demand.
      if (entry === undefined || entry.bound) continue;
      entry.variable.setValueFromSource(
        { dataType: entry.dataType, value: batch.num[i] as number },
        StatusCodes.Good,
        new Date(batch.ts[i] as number),
      );
    }
  }

  /** Every signal path served over OPC UA. */
  get signals(): string[] {
    return [...this.#variables.keys()];
  }

  /**
   * Drops the endpoint (closes every client connection and stops accepting new ones) until
   * {@link PlantOpcuaServer.resume}.
   */
  async suspend(): Promise<void> {
    const server = this.#server;
    if (server === undefined || this.#suspended) return;
    this.#suspended = true;
    // Terminate every secure channel's transport (as a cable pull would), then stop listening.
    const closing: Promise<void>[] = [];
    for (const ep of server.endpoints) {
      for (const channel of ep.getChannels())
        closing.push(new Promise<void>((resolve) => channel.close(() => resolve())));
    }
    await Promise.all(closing);
    await server.suspendEndPoints();
  }

  /** Listens again after {@link PlantOpcuaServer.suspend}. */
  async resume(): Promise<void> {
    const server = this.#server;
    if (server === undefined || !this.#suspended) return;
    this.#suspended = false;
    await server.resumeEndPoints();
  }

  /** Stops the server and closes every session. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await server.shutdown(0);
  }
}
