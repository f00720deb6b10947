/** config/connectors/<id>.yaml for `kind: intune` (Microsoft Intune through Microsoft Graph). */
import { constants, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { unenrollGuardSchema } from '../../src/connectors/unenroll-guard.js';
import { duration, path } from '../../src/config/schema.js';
import { secret } from '../../src/config/secret.js';
import { policySchema } from '../../src/connectors/settings.js';
import { readConnectorKey } from './connector-key.js';

const httpsBase = z
  .url({ protocol: /^https$/, error: 'expected an https:// URL' })
  .refine((u) => !/[?#]/.test(u), { message: 'expected a base URL without query or fragment' })
  .transform((u) => u.replace(/\/+$/, ''));

/**
 * The intended purposes the Intune article "Configure and use imported PKCS
 * certificates with Intune" lists for imported PFX certificates. Graph's
 * userPfxIntendedPurpose also names vpn and wifi, but the article says VPN
 * is not supported and lists no wifi.
 */
const INTENDED_PURPOSES = ['unassigned', 'smimeEncryption', 'smimeSigning'] as const;
const intendedPurpose = z.enum(INTENDED_PURPOSES, {
  error: (issue) =>
    `Intune does not support ${JSON.stringify(issue.input)} as the intended purpose of imported PFX certificates; use ${INTENDED_PURPOSES.join(', ')} (Intune documentation: "Configure and use imported PKCS certificates with Intune")`,
});
/** SHA-512 output size: OAEP takes 2 hash lengths + 2 bytes of every RSA block. */
const OAEP_SHA512_OVERHEAD = 2 * 64 + 2;

/** Longest password (bytes) RSA-OAEP with SHA-512 can encrypt under `key`. */
export function maxPasswordBytes(key: KeyObject): number {
  return (key.asymmetricKeyDetails?.modulusLength ?? 0) / 8 - OAEP_SHA512_OVERHEAD;
}

const pfxImport = z.strictObject({
  connectorPublicKey: z
    .string()
    .min(1)
    .describe(
      "RSA public key of the Intune Certificate Connector's PFX encryption key, as Export-IntunePublicKey writes it (a CNG key blob, or PEM with -FileFormat PEM): inline PEM, inline base64 of the blob, or a file path. PKCS#12 passwords are encrypted to it.",
    ),
  providerName: z
    .string()
    .min(1)
    .default('Microsoft Software Key Storage Provider')
    .describe('Key storage provider that holds that key on the connector host.'),
  keyName: z.string().min(1).describe('Name of that key in the provider (as created with the PFX import tooling).'),
  intendedPurpose: z
    .strictObject({
      signing: intendedPurpose.default('smimeSigning'),
      encryption: intendedPurpose.default('smimeEncryption'),
    })
    .prefault({})
    .describe('Intune intended purpose per credential; the PKCS imported certificate profiles pick certificates by it.'),
});

export const intuneSchema = z
  .strictObject({
    kind: z.literal('intune'),
    policy: policySchema,
    tenant: z
      .string()
      .regex(/^[A-Za-z0-9.-]{1,253}$/, { message: 'expected the tenant id (GUID) or its domain, e.g. contoso.onmicrosoft.com' })
      .describe('Microsoft Entra tenant id or primary domain.'),
    clientId: z.string().min(1).describe('Application (client) id of the app registration.'),
    clientSecret: secret(z.string().min(1)).optional().describe('Its client secret; use ${ENV_VAR}.'),
    clientCertificate: z
      .strictObject({
        cert: path.describe('PEM certificate uploaded to the app registration.'),
        key: path.describe('Its PEM private key (RSA).'),
        passphrase: secret(z.string().min(1)).optional().describe('Passphrase of an encrypted key; use ${ENV_VAR}.'),
      })
      .optional()
      .describe('Authenticate with a certificate (signed client assertion) instead of a secret.'),
    loginHost: httpsBase
      .default('https://login.microsoftonline.com')
      .describe('Microsoft Entra login endpoint (government clouds: https://login.microsoftonline.us).'),
    graphHost: httpsBase
      .default('https://graph.microsoft.com')
      .describe('Microsoft Graph (government clouds: https://graph.microsoft.us, https://dod-graph.microsoft.us).'),
    graphScope: z.string().min(1).optional().describe('Scope of Graph tokens; default <graphHost>/.default.'),
    intuneScope: z
      .string()
      .min(1)
      .default('https://api.manage.microsoft.com//.default')
      .describe('Scope of tokens for the Intune SCEP validation and PKI connector services (the double slash is what Microsoft sends).'),
    trust: z
      .array(path)
      .default([])
      .describe('Extra CA certificates (PEM) trusted for outbound TLS, beside the standard public roots (TLS-inspecting proxies, test services).'),
    timeout: duration.default('30s').describe('Per HTTP request.'),
    polling: z
      .strictObject({
        interval: duration.default('5m').describe('How often managedDevices is listed.'),
        initialSync: z
          .enum(['enroll', 'skip-existing'])
          .default('enroll')
          .describe(
            'First listing of a new install: enroll treats every device already in Intune as newly enrolled (credentials for everyone); skip-existing only records them.',
          ),
        unenrollGuard: unenrollGuardSchema,
      })
      .prefault({}),
    pfxImport,
    scepValidation: z
      .strictObject({
        callerInfo: z.string().min(1).default('credgate').describe('Names this CA to Intune (callerInfo and User-Agent).'),
      })
      .prefault({})
      .describe('Used by SCEP profiles with challenge: { connector: <this connector id> } or { intune: <this connector id> }.'),
    revocation: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Fetch the revocations Intune asks for and carry them out in our CA.'),
        interval: duration.default('15m'),
        maxRequests: z.number().int().min(1).max(500).default(100).describe('Requests fetched per call (Intune allows 1-500).'),
      })
      .prefault({}),
  })
  .superRefine((s, ctx) => {
    if ((s.clientSecret === undefined) === (s.clientCertificate === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'give either clientSecret or clientCertificate' });
    }
    let key: KeyObject;
    try {
      key = readConnectorKey(s.pfxImport.connectorPublicKey);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        path: ['pfxImport', 'connectorPublicKey'],
        message: `expected the connector's RSA public key (PEM, or the CNG key blob Export-IntunePublicKey writes; inline or a file path): ${(err as Error).message.split('\n')[0]}`,
      });
      return;
    }
    // The password is encrypted byte for byte: Intune reads one character per byte.
    const password = s.policy.pkcs12.password;
    if (!/^[\x20-\x7e]*$/.test(password)) {
      ctx.addIssue({ code: 'custom', path: ['policy', 'pkcs12', 'password'], message: 'Intune needs a printable ASCII password (one byte per character)' });
    } else if (password.length > maxPasswordBytes(key)) {
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'pkcs12', 'password'],
        message: `at most ${maxPasswordBytes(key)} characters: RSA-OAEP SHA-512 under the ${key.asymmetricKeyDetails?.modulusLength}-bit connector key cannot encrypt more`,
      });
    }
  });

export type IntuneSettings = z.infer<typeof intuneSchema>;

/** OAEP parameters Intune's connector decrypts with (paddingScheme oaepSha512): SHA-512, MGF1-SHA-512, empty label. */
export const OAEP_SHA512 = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha512' } as const;
