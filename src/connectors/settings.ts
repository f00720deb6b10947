/**
 * The parts of a connector's YAML every vendor shares: how the MDM console
 * authenticates to us (`inbound`) and what the core issues and delivers for
 * its events (`policy`). Vendor schemas embed these.
 */
import { z } from 'zod';
import { clientCertMatch, duration, name, path } from '../config/schema.js';
import { secret } from '../config/secret.js';

export const inboundSchema = z
  .strictObject({
    basic: z
      .array(
        z.strictObject({
          username: z.string().min(1),
          password: secret(z.string().min(12, { message: 'expected a password of at least 12 characters; set it with ${ENV_VAR}' })),
        }),
      )
      .default([])
      .describe('HTTP Basic credentials the console sends (also on Test Connection).'),
    clientCertificates: z
      .strictObject({
        trust: z.array(path).default([]).describe('CAs (PEM) that issue the console client certificates, added to the listener.'),
        allow: z.array(clientCertMatch).min(1),
      })
      .optional()
      .describe('mTLS: console certificates allowed by SHA-256 fingerprint or subject.'),
  })
  .refine((i) => i.basic.length > 0 || i.clientCertificates !== undefined, { message: 'give basic credentials or clientCertificates (or both)' });

export const policySchema = z.strictObject({
  enrolled: z
    .strictObject({
      signing: name.optional().describe('Template of the per-device signing credential.'),
      encryption: z
        .union([name, z.strictObject({ unmanaged: z.literal('encryption') })])
        .optional()
        .describe(
          "Template of the per-user encryption credential (escrowed, same key on every device); or { unmanaged: encryption }: the person's uploaded encryption certificate issued by another CA (POST /api/v1/users/{ref}/certificates), delivered as it is and never revoked here.",
        ),
    })
    .refine((e) => e.signing !== undefined || e.encryption !== undefined, { message: 'name a signing or an encryption template (or both)' }),
  onUnenroll: z
    .enum(['revoke-signing', 'keep'])
    .default('revoke-signing')
    .describe('On unenroll or wipe: revoke the device signing certificates (cessationOfOperation).'),
  renewal: z
    .strictObject({
      before: duration.default('30d').describe('Re-issue and deliver again this long before the credentials expire.'),
      checkEvery: duration.default('1h'),
    })
    .prefault({}),
  pkcs12: z.strictObject({
    format: z.enum(['apple', 'modern']).default('apple').describe('apple: 3DES/SHA-1 (iOS); modern: AES-256/SHA-256.'),
    password: secret(z.string().min(8)).describe('Password of delivered PKCS#12 files; use ${ENV_VAR}.'),
  }),
});

export type InboundSettings = z.infer<typeof inboundSchema>;
export type PolicySettings = z.infer<typeof policySchema>;
