import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { OpcuaSourceDef } from '@gemba/core';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import {
  MessageSecurityMode,
  type OPCUAClientOptions,
  SecurityPolicy,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua-client';

/** Connection settings shared by the driver and `gemba connect browse`. */
export interface OpcuaConnectionSettings {
  securityMode?: OpcuaSourceDef['securityMode'];
  securityPolicy?: OpcuaSourceDef['securityPolicy'];
  username?: string | undefined;
  /** The password itself (resolved from `passwordEnv` by the caller). */
  password?: string | undefined;
  /** Certificate store and trust list folder. */
  pkiDir: string;
  acceptUnknownCertificate?: boolean;
  /** Reconnect delays, ms. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * node-opcua client options: our own certificate folder (never the home folder),
 * `endpointMustExist: false` (a server dialled as 127.0.0.1 may advertise another host
 * name), security mode and policy, and endless reconnection with backoff.
 */
export async function opcuaClientOptions(s: OpcuaConnectionSettings): Promise<OPCUAClientOptions> {
  mkdirSync(s.pkiDir, { recursive: true });
  const clientCertificateManager = new OPCUACertificateManager({
    rootFolder: s.pkiDir,
    automaticallyAcceptUnknownCertificate: s.acceptUnknownCertificate ?? false,
  });
  await clientCertificateManager.initialize();
  return {
    applicationName: 'Gemba',
    applicationUri: 'urn:gemba:connect',
    endpointMustExist: false,
    securityMode: MessageSecurityMode[s.securityMode ?? 'None'],
    securityPolicy:
      s.securityPolicy === 'Basic256Sha256' ? SecurityPolicy.Basic256Sha256 : SecurityPolicy.None,
    clientCertificateManager,
    certificateFile: join(s.pkiDir, 'own', 'certs', 'client_certificate.pem'),
    privateKeyFile: join(s.pkiDir, 'own', 'private', 'private_key.pem'),
    keepSessionAlive: true,
    requestedSessionTimeout: 60_000,
    connectionStrategy: {
      maxRetry: -1,
      initialDelay: s.initialDelayMs ?? 250,
      maxDelay: s.maxDelayMs ?? 10_000,
      randomisationFactor: 0.2,
    },
  };
}

/** Anonymous, or user name and password. */
export function userIdentity(s: OpcuaConnectionSettings): UserIdentityInfo {
  if (s.username !== undefined) {
    return { type: UserTokenType.UserName, userName: s.username, password: s.password ?? '' };
  }
  return { type: UserTokenType.Anonymous };
}
