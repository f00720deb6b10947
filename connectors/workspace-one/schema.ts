/** config/connectors/<id>.yaml for `kind: workspace-one`. */
import { z } from 'zod';
import { duration, path } from '../../src/config/schema.js';
import { secret } from '../../src/config/secret.js';
import { inboundSchema, policySchema } from '../../src/connectors/settings.js';

const httpsUrl = z.url({ protocol: /^https$/, error: 'expected an https:// URL' });

export const workspaceOneSchema = z
  .strictObject({
    kind: z.literal('workspace-one'),
    inbound: inboundSchema,
    policy: policySchema,
    delivery: z
      .enum(['escrow-gateway', 'uem-upload'])
      .default('escrow-gateway')
      .describe('escrow-gateway: POST <EG>/v2/certificates; uem-upload: the UEM API uploadsmimecerts call, for consoles without an EG.'),
    escrowGateway: z
      .strictObject({
        url: httpsUrl.describe('Escrow Gateway base URL; uploads go to <url>/v2/certificates.'),
        clientPkcs12: path.describe('Client certificate on the EG approved-client list (PKCS#12).'),
        clientPkcs12Password: secret(z.string()).describe('Its password; use ${ENV_VAR}.'),
        serverCa: path.optional().describe("CA bundle (PEM) that issued the EG's TLS certificate; default: the system store."),
        timeout: duration.default('30s'),
      })
      .optional()
      .describe('Where enrolled credentials are uploaded (delivery: escrow-gateway).'),
    uem: z
      .strictObject({
        url: httpsUrl.describe('UEM API host, e.g. https://as1234.awmdm.com'),
        tenantCode: secret(z.string().min(1)).describe('aw-tenant-code (API key); use ${ENV_VAR}.'),
        basic: z.strictObject({ username: z.string().min(1), password: secret(z.string().min(1)) }).optional(),
        oauth: z.strictObject({ tokenUrl: httpsUrl, clientId: z.string().min(1), clientSecret: secret(z.string().min(1)) }).optional(),
        serverCa: path.optional(),
        timeout: duration.default('15s'),
      })
      .refine((u) => (u.basic === undefined) !== (u.oauth === undefined), { message: 'give either basic or oauth credentials' })
      .optional()
      .describe('UEM REST API: looks up a user email an event leaves empty; receives uploads with delivery: uem-upload.'),
  })
  .superRefine((s, ctx) => {
    if (s.delivery === 'escrow-gateway' && !s.escrowGateway)
      ctx.addIssue({ code: 'custom', path: ['escrowGateway'], message: 'required when delivery is escrow-gateway' });
    if (s.delivery === 'uem-upload' && !s.uem) ctx.addIssue({ code: 'custom', path: ['uem'], message: 'required when delivery is uem-upload' });
  });

export type WorkspaceOneSettings = z.infer<typeof workspaceOneSchema>;
