/** config/connectors/<id>.yaml for `kind: citrix`. */
import { z } from 'zod';
import { unenrollGuardSchema } from '../../src/connectors/unenroll-guard.js';
import { duration, name, path } from '../../src/config/schema.js';
import { secret } from '../../src/config/secret.js';
import type { ConnectorPolicy } from '../../src/connectors/pipeline.js';
import { inboundSchema } from '../../src/connectors/settings.js';
import { namesSetting } from '../../src/config/name-policy.js';
import { DEFAULT_REQUEST_SUBJECT, valuePattern, type NamePolicy } from '../../src/pki/name-policy.js';

const EMAIL = "[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+";
/** What XenMobile credential providers put in subjects: a user's and device's names, and the mail address. */
const CERTSRV_SUBJECT = { ...DEFAULT_REQUEST_SUBJECT, E: EMAIL };

const httpsUrl = z.url({ protocol: /^https$/, error: 'expected an https:// URL' });
/** XenMobile refuses special characters in template names; ADCS names are at most 64 characters. */
const adcsTemplate = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, { message: 'expected a certificate template name (letters, digits, space, dot, dash, underscore)' });

const retiredRule = z.strictObject({
  field: z.string().min(1).describe('A field of the device in /device/filter answers (e.g. managed), or properties.<NAME> for a device property.'),
  equals: z.union([z.string(), z.boolean(), z.number()]),
});

export const citrixSchema = z
  .strictObject({
    kind: z.literal('citrix'),
    inbound: inboundSchema.describe("How XenMobile authenticates to the certsrv endpoint: the PKI entity's HTTP basic or client certificate."),
    onRetire: z
      .enum(['revoke', 'keep'])
      .default('revoke')
      .describe('revoke: when XenMobile retires or removes a device, revoke the certificates issued through certsrv for it (cessationOfOperation).'),
    certsrv: z.strictObject({
      templates: z
        .record(adcsTemplate, name)
        .refine((t) => Object.keys(t).length > 0, { message: 'map at least one template' })
        .describe('CertificateTemplate names XenMobile sends (its PKI entity templates) -> credgate templates.'),
      device: z
        .strictObject({
          subjectAttribute: z
            .string()
            .min(1)
            .optional()
            .describe(
              'Subject attribute holding the device, e.g. serialNumber for a credential provider subject "CN=${user.username},serialNumber=${device.serialnumber}".',
            ),
          sanUriPrefix: z.string().min(1).optional().describe('Or: a subjectAltName URI starting with this prefix; the rest names the device.'),
          field: z.enum(['serialNumber', 'id']).default('serialNumber').describe('The XenMobile device field that value is.'),
          required: z
            .boolean()
            .default(true)
            .describe('Deny requests that name no device (their certificates could not be revoked when the device is retired).'),
        })
        .refine((d) => (d.subjectAttribute === undefined) !== (d.sanUriPrefix === undefined), { message: 'give either subjectAttribute or sanUriPrefix' })
        .prefault({ subjectAttribute: 'serialNumber' })
        .describe('Where requests name the device their certificate is for.'),
      names: namesSetting({ sources: ['request'], subject: CERTSRV_SUBJECT, subjectAltNames: { email: EMAIL, upn: EMAIL } }).describe(
        "Which of the request's names are certified (XenMobile's credential provider sets them): subject attributes CN, O, OU, L, ST, C, serialNumber and E, and subjectAltNames email and UPN (and URI under device.sanUriPrefix), one each, unless listed otherwise here; anything else denies the request.",
      ),
      emailCase: z
        .enum(['lower', 'keep'])
        .default('lower')
        .describe(
          'lower: email addresses in the subject and subjectAltName are issued in lower case (the Citrix credential store compares them case-sensitively); a warning names the address as requested.',
        ),
    }),
    xenmobile: z.strictObject({
      url: httpsUrl.describe('XenMobile server REST API base, e.g. https://xms.example.com:4443'),
      login: z.string().min(1).describe('An administrator with API access.'),
      password: secret(z.string().min(1)).describe('Its password; use ${ENV_VAR}.'),
      serverCa: path.optional().describe("CA bundle (PEM) that issued XenMobile's TLS certificate; default: the system store."),
      timeout: duration.default('15s'),
      pollEvery: duration.default('5m').describe('How often the device list is read to notice retired and removed devices.'),
      pageSize: z.number().int().min(1).max(1000).default(200),
      retiredWhen: z
        .array(retiredRule)
        .min(1)
        .default([
          { field: 'managed', equals: false },
          { field: 'mdmKnown', equals: true },
        ])
        .describe('A listed device matching every rule is retired (default: known to MDM but no longer managed).'),
      unenrollGuard: unenrollGuardSchema,
    }),
  })
  // The core's policy: nothing is pushed; on retirement the certsrv templates' device certificates are revoked.
  .transform((s) => {
    const policy: ConnectorPolicy = {
      enrolled: {},
      onUnenroll: s.onRetire === 'revoke' ? 'revoke-signing' : 'keep',
      deviceTemplates: [...new Set(Object.values(s.certsrv.templates))],
      renewal: { before: '30d', checkEvery: '1h' },
    };
    // A device named by a subjectAltName URI under its prefix is one more name the request may carry.
    const prefix = s.certsrv.device.sanUriPrefix;
    const uri =
      s.certsrv.names.subjectAltNames.uri ?? (prefix ? { pattern: valuePattern(`${escapeRegExp(prefix)}[A-Za-z0-9._:-]{1,128}`), max: 1 } : undefined);
    const names: NamePolicy = { ...s.certsrv.names, source: 'request', subjectAltNames: { ...s.certsrv.names.subjectAltNames, ...(uri && { uri }) } };
    return { ...s, certsrv: { ...s.certsrv, names }, policy };
  });

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export type CitrixSettings = z.output<typeof citrixSchema>;
