import { GembaError } from '@gemba/core';
import { MessageSecurityMode, OPCUAClient, UserTokenType } from 'node-opcua-client';
import { opcuaClientOptions } from './config.ts';

/** One endpoint a server offers (OPC UA Part 4 §5.4.4 GetEndpoints). */
export interface DiscoveredEndpoint {
  endpointUrl: string;
  /** `None`, `Sign` or `SignAndEncrypt`. */
  securityMode: string;
  /** The policy's short name, e.g. `Basic256Sha256`. */
  securityPolicy: string;
  /** User token types accepted: `Anonymous`, `UserName`, `Certificate` ... */
  userTokens: string[];
}

/**
 * Asks a server which endpoints (security mode, policy, user tokens) it offers, to choose a
 * source's `securityMode`, `securityPolicy` and login. Used by `gemba connect endpoints`.
 * @throws GembaError GEMBA_CONNECT_UNAVAILABLE when the server cannot be reached.
 */
export async function discoverEndpoints(
  endpoint: string,
  options: { pkiDir: string },
): Promise<DiscoveredEndpoint[]> {
  const opts = await opcuaClientOptions({ pkiDir: options.pkiDir });
  opts.connectionStrategy = { maxRetry: 1, initialDelay: 200, maxDelay: 1000 };
  const client = OPCUAClient.create(opts);
  try {
    await client.connect(endpoint);
    const eps = await client.getEndpoints();
    return eps.map((e) => ({
      endpointUrl: e.endpointUrl ?? endpoint,
      securityMode: MessageSecurityMode[e.securityMode] ?? String(e.securityMode),
      securityPolicy: (e.securityPolicyUri ?? '').split('#').pop() ?? '',
      userTokens: [
        ...new Set(
          (e.userIdentityTokens ?? []).map((t) => UserTokenType[t.tokenType] ?? String(t.tokenType)),
        ),
      ],
    }));
  } catch (err: unknown) {
    throw new GembaError(
      'GEMBA_CONNECT_UNAVAILABLE',
      `cannot get the endpoints of ${endpoint}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err, details: { endpoint } },
    );
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}
