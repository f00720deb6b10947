/** config/connectors/<id>.yaml for `kind: mobileiron` (MobileIron Core / Ivanti EPMM, Ivanti Neurons for MDM). */
import { z } from 'zod';
import { duration, name, path } from '../../src/config/schema.js';
import { secret } from '../../src/config/secret.js';
import { policySchema } from '../../src/connectors/settings.js';

const httpsUrl = z.url({ protocol: /^https$/, error: 'expected an https:// URL' });
const apiPath = z.string().regex(/^\/[^?#\s]*$/, { message: 'expected an absolute path such as /api/v2/ping (no query string)' });
const field = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'expected a form field name (letters, digits, _ . -)' });
// An HTTP header name (RFC 9110 token).
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, { message: 'expected an HTTP header name' });
const topic = z.string().regex(/^[^#+\s]+$/, { message: 'expected a topic without wildcards (+, #) or spaces' });

export const ENS_TOPICS = ['device/enrolled', 'device/retired', 'device/wiped'];

const broker = z.strictObject({
  // MQTT URLs may carry a username and password.
  url: secret(z.url({ protocol: /^mqtts$/, error: 'expected an mqtts:// URL, e.g. mqtts://core.example.com:8883' })).describe(
    'Event Notification Service broker: mqtts://<core-host>:8883 (Neurons: mqtts://queue-<cluster>.mobileiron.com:8883).',
  ),
  ca: path.optional().describe("CA bundle (PEM) that issued the broker's TLS certificate; default: the system store."),
  clientCertificate: z
    .strictObject({
      cert: path.describe('PEM certificate mapped to a Core admin with the CPS role (chain may follow).'),
      key: path.describe('Its PEM private key.'),
      passphrase: secret(z.string().min(1)).optional().describe('Passphrase of an encrypted key; use ${ENV_VAR}.'),
    })
    .describe('TLS client certificate the broker authenticates us by.'),
  topics: z.array(topic).min(1).default(ENS_TOPICS).describe('Topics to subscribe to (QoS 1).'),
  tenantPrefix: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, { message: 'expected the tenant GUID' })
    .optional()
    .describe('Neurons for MDM: the tenant GUID that prefixes every topic (<guid>/device/enrolled).'),
  clientIdPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, { message: 'expected 1-40 letters, digits, _ or -' })
    .default('credgate-')
    .describe(
      '12 random hex digits are added per gateway process, so no two instances share a client id; up to 11 characters keep the id within the 23 every MQTT 3.1.1 broker accepts.',
    ),
  clientId: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'expected 1-64 letters, digits, _ . or -' })
    .optional()
    .describe(
      'A fixed client id for this gateway instance (e.g. credgate-${HOSTNAME}), instead of clientIdPrefix and a random suffix: with session: persistent the broker then keeps what is published while the gateway restarts. Every instance needs its own; two connections with one id push each other off.',
    ),
  session: z
    .enum(['persistent', 'clean'])
    .default('persistent')
    .describe(
      'persistent: the broker keeps unacknowledged and queued messages across reconnects (and, with a fixed clientId, across restarts); clean: every connection starts afresh.',
    ),
  keepalive: duration.default('60s'),
  connectTimeout: duration.default('30s'),
  reconnect: z
    .strictObject({
      initial: duration.default('1s').describe('Ceiling of the first reconnect delay; each failure doubles it (full jitter).'),
      max: duration.default('2m'),
    })
    .prefault({}),
});

const upload = z.strictObject({
  path: apiPath
    .default('/api/v2/usercertificates/upload')
    .describe('(assumed by the contract) multipart upload of one PKCS#12 per user per enrollment setting.'),
  fields: z
    .strictObject({
      file: field.default('file'),
      password: field.default('password'),
      userId: field.default('userId'),
      ceSettingName: field.default('ceSettingName'),
    })
    .prefault({})
    .describe('Names of the multipart fields.'),
  session: z
    .strictObject({
      path: apiPath.optional().describe('(assumed) the authenticated GET whose answer opens the session; default: coreApi.pingPath.'),
      nonce: headerName
        .default('CSRF_NONCE')
        .describe('(assumed) the response header (else cookie) that holds the CSRF nonce; uploads send it back as a request header of this name.'),
    })
    .prefault({})
    .describe(
      "The session Core's V2 API asks multipart calls to carry (JSESSIONID and CSRF_NONCE): the cookies and nonce of an authenticated GET go with each upload. A Core that sets none takes Basic alone.",
    ),
  ceSettingNames: z
    .strictObject({
      signing: z.string().min(1).optional().describe('Name of the User-Provided certificate enrollment setting for S/MIME signing.'),
      encryption: z.string().min(1).optional().describe('Name of the one for S/MIME encryption.'),
    })
    .describe('The Core enrollment setting each credential purpose is uploaded to.'),
});

const coreApi = z.strictObject({
  url: httpsUrl.describe('Core base URL, e.g. https://core.example.com'),
  basic: z
    .strictObject({ username: z.string().min(1), password: secret(z.string().min(1)).describe('Use ${ENV_VAR}.') })
    .describe('An admin with the API role.'),
  adminDeviceSpaceId: z.number().int().min(0).default(1).describe('Device space of that admin, sent as the adminDeviceSpaceId query parameter.'),
  serverCa: path.optional().describe("CA bundle (PEM) that issued Core's TLS certificate; default: the system store."),
  timeout: duration.default('30s'),
  upload: upload,
  userLookup: z
    .strictObject({
      path: apiPath.default('/api/v2/devices'),
      deviceField: z.string().min(1).default('common.uuid').describe('Search field the event deviceGuid is matched against.'),
      emailField: z.string().min(1).default('user.email_address'),
    })
    .optional()
    .describe("(assumed) Core's device search, to find the email of a user an event names only by userId."),
  pingPath: apiPath.default('/api/v2/ping').describe('(assumed) an authenticated GET the connection check calls.'),
});

export const mobileIronSchema = z
  .strictObject({
    kind: z.literal('mobileiron'),
    policy: policySchema,
    broker,
    coreApi,
    emailFromUserId: z
      .boolean()
      .default(false)
      .describe('Take a userId that is an email address as the email (when no user lookup is configured or it finds none).'),
    scep: z
      .strictObject({
        profile: name.describe("scep.profiles entry (in credgate.yaml) with a static challenge that Core's Centralized SCEP setting uses."),
        url: httpsUrl.optional().describe('The SCEP URL entered in Core (https://<gateway>/scep/<profile>); the connection check asks it for GetCACaps.'),
        serverCa: path.optional().describe("CA bundle (PEM) of the gateway's TLS certificate, for that check; default: the system store."),
      })
      .optional()
      .describe('Core as a SCEP client of this gateway (Centralized mode).'),
  })
  .superRefine((s, ctx) => {
    const names = s.coreApi.upload.ceSettingNames;
    for (const purpose of ['signing', 'encryption'] as const) {
      if (s.policy.enrolled[purpose] !== undefined && names[purpose] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['coreApi', 'upload', 'ceSettingNames', purpose],
          message: `required: policy.enrolled issues ${purpose} credentials`,
        });
      }
    }
  });

export type MobileIronSettings = z.infer<typeof mobileIronSchema>;
