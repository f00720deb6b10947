/**
 * The configuration schema. It is the single source of truth for:
 * validation of credgate.yaml, defaults, the environment variables that can
 * override each key, and config/credgate.schema.json (generated from it).
 */
import { z } from 'zod';
import { devPkiFiles } from '../pki/dev-pki.js';
import { parseDn } from '../pki/dn.js';
import { KEY_ALGORITHMS } from '../pki/keys.js';
import { unknownAttributeType } from '../pki/names.js';
import { PIV_AUTHENTICATION_POLICIES } from '../pki/piv.js';
import { PRESET_NAMES } from '../pki/presets.js';
import { parseDnTemplate } from '../pki/template.js';
import { badges, profileBadges } from './badges.js';
import { namesSetting } from './name-policy.js';
import { durationMs } from './duration.js';
import { secret } from './secret.js';

const port = z.number().int().min(0).max(65535);
/**
 * A path; a relative one is relative to the directory the gateway runs in
 * (not the config file's), like the shipped defaults (certs/, data/).
 */
export const path = z.string().min(1);
/** Durations are written like "30s", "5m", "250ms", "1h", "7d". */
export const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, { message: 'expected a duration such as "500ms", "30s", "5m", "1h" or "7d"' });

const server = z
  .strictObject({
    host: z.string().default('0.0.0.0').describe('Address the HTTPS listener binds to.'),
    port: port.default(8443).describe('HTTPS port; 0 picks a free one.'),
    publicUrl: z.url().optional().describe('Base URL devices and MDM consoles reach the gateway at; defaults to https://localhost:<port>.'),
    tls: z
      .strictObject({
        cert: path.optional().describe('Server certificate chain (PEM); default <pki.dir>/server.pem, which the dev PKI writes.'),
        key: path.optional().describe('Server private key (PEM); default <pki.dir>/server-key.pem, which the dev PKI writes.'),
      })
      .prefault({}),
    bodyLimit: z
      .string()
      .regex(/^\d+(b|kb|mb)$/i, { message: 'expected a size such as "512kb" or "1mb"' })
      .default('1mb')
      .describe('Largest request body accepted; larger bodies get 413.'),
    trustProxy: z.boolean().default(false).describe('Trust X-Forwarded-* headers from a reverse proxy.'),
    http: z
      .strictObject({
        host: z.string().optional().describe('Address to bind; default server.host.'),
        port: port.describe('Plain HTTP port; 0 picks a free one.'),
      })
      .optional()
      .describe(
        'Optional plain-HTTP listener for /scep and /pki only (messages, CRLs and OCSP answers protect themselves), as many SCEP clients and CRL fetchers expect.',
      ),
  })
  .prefault({});

const database = z
  .strictObject({
    client: z.enum(['sqlite', 'mysql']).default('sqlite').describe('sqlite (embedded) or mysql (MySQL/MariaDB via mysql2).'),
    filename: path.default('data/credgate.db').describe('SQLite database file (WAL mode); used when client is sqlite.'),
    url: secret(z.string().regex(/^mysql:\/\//, { message: 'expected a URL such as mysql://user:password@host:3306/credgate' }))
      .optional()
      .describe('MySQL/MariaDB connection URL; required when client is mysql.'),
    pool: z
      .strictObject({ min: z.number().int().min(0).default(0), max: z.number().int().min(1).default(10) })
      .prefault({})
      .describe('Connection pool (mysql only; SQLite uses one connection).'),
  })
  .superRefine((db, ctx) => {
    if (db.client === 'mysql' && !db.url) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when database.client is mysql' });
    }
  })
  .prefault({});

const certificateMatch = {
  fingerprint: z
    .string()
    .regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, { message: 'expected a SHA-256 fingerprint (64 hex digits, colons optional)' })
    .optional()
    .describe('SHA-256 fingerprint of the client certificate.'),
  subject: z
    .string()
    .min(1)
    .superRefine((dn, ctx) => {
      try {
        parseDn(dn);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not a distinguished name (RFC 4514): ${(err as Error).message}` });
      }
    })
    .optional()
    .describe(
      'Exact subject DN as RFC 4514 writes it (escape "," "+" "\\" in values), e.g. "CN=ops-console, O=Example Bank"; RDNs match in either order of writing, never shuffled.',
    ),
};
const needsMatch = [
  (r: { fingerprint?: string | undefined; subject?: string | undefined }) => r.fingerprint !== undefined || r.subject !== undefined,
  { message: 'give a fingerprint or a subject to match' },
] as const;

/** A client certificate to accept, by fingerprint and/or subject. */
export const clientCertMatch = z.strictObject(certificateMatch).refine(...needsMatch);

export const clientCertRule = z
  .strictObject({
    principal: z.string().min(1).describe('Name the caller is known by in logs and the audit trail.'),
    roles: z.array(z.string().min(1)).default([]),
    ...certificateMatch,
  })
  .refine(...needsMatch);

const basicUser = z.strictObject({
  username: z.string().min(1),
  password: secret(z.string().min(12, { message: 'expected a password of at least 12 characters; set it with ${ENV_VAR}' })),
  principal: z.string().min(1),
  roles: z.array(z.string().min(1)).default([]),
});

/** How far an operator's reach goes among people, narrowest first (src/identity/scope.ts). */
export const OPERATOR_SCOPES = ['self', 'groups', 'all'] as const;
/**
 * Admin API rights a role may be given besides admin, which has them all
 * (src/identity/scope.ts says which endpoints each opens). Requesting,
 * validating and unlocking are the credential profiles' roles.
 */
export const OPERATOR_RIGHTS = ['view-people', 'edit-people', 'cancel', 'disable', 'replace'] as const;
/** The API's own roles, which reached everyone before scopes existed and keep scope all unless listed (src/http/auth/roles.ts). */
export const BUILT_IN_ROLES = ['admin', 'key-recovery', 'card-management'] as const;

const operatorRole = z.strictObject({
  scope: z
    .enum(OPERATOR_SCOPES)
    .default('self')
    .describe(
      "Whom the role reaches: all (everyone), groups (people who share at least one group with the caller's own user record, and that record), self (only that record).",
    ),
  may: z
    .array(z.enum(OPERATOR_RIGHTS))
    .default([])
    .describe(
      'Admin API rights within the scope: view-people (users, devices, mobile IDs, their certificates), edit-people (change users and devices), cancel, disable (and enable), replace mobile IDs.',
    ),
});

const auth = z
  .strictObject({
    roles: z
      .record(z.string().min(1).max(64), operatorRole)
      .default({})
      .describe(
        "Operator roles by name: each one's scope and admin API rights; a caller with several roles reaches as far as the widest. A role not listed has scope self and no rights: an unlisted role is one nobody decided about, so it reaches no one but its holder. admin, key-recovery and card-management, when not listed, keep scope all and their own rights (admin: every right), as before scopes existed; list them to narrow them.",
      ),
    clientCertificates: z
      .strictObject({
        trust: z
          .array(path)
          .optional()
          .describe(
            "PEM files of the CAs whose client certificates the listener accepts; default the dev PKI's <pki.dir>/root-ca.pem and <pki.dir>/issuing-ca.pem.",
          ),
        allow: z
          .array(clientCertRule)
          .default([])
          .describe('Client certificates mapped to principals; one that chains to these CAs only, and one this gateway issued by fingerprint only.'),
      })
      .prefault({}),
    basic: z.array(basicUser).default([]).describe('HTTP Basic users (for MDM consoles). Passwords via ${ENV_VAR}.'),
  })
  .prefault({});

const jobs = z
  .strictObject({
    workers: z.number().int().min(0).max(64).default(2).describe('Concurrent jobs per gateway instance; 0 runs none.'),
    pollInterval: duration.default('500ms'),
    lease: duration.default('2m').describe('How long a claimed job is owned before another worker may take it.'),
    maxAttempts: z.number().int().min(1).default(10),
    backoff: z
      .strictObject({ base: duration.default('2s'), max: duration.default('1h') })
      .prefault({})
      .describe('Retry delay: base * 2^(attempt-1) with full jitter, capped at max.'),
  })
  .prefault({});

export const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'expected a lower-case name (letters, digits, dashes)' });
const keyAlgorithm = z.enum(KEY_ALGORITHMS);

const ca = z
  .strictObject({
    cert: path.optional().describe('CA certificate (PEM).'),
    key: path.optional().describe('CA private key (PEM; encrypted under the master key or plain).'),
    chain: z.array(path).default([]).describe('Issuers above this CA up to the root (PEM).'),
    pkcs12: path.optional().describe('Alternatively: CA key, certificate and chain as PKCS#12.'),
    password: secret(z.string()).optional().describe('PKCS#12 password; use ${ENV_VAR}.'),
    crl: z
      .strictObject({
        validity: duration.default('7d').describe('nextUpdate - thisUpdate.'),
        refreshBefore: duration.default('1d').describe('Re-sign this long before nextUpdate.'),
      })
      .prefault({}),
  })
  .refine((c) => (c.pkcs12 !== undefined) !== (c.cert !== undefined && c.key !== undefined), {
    message: 'give either cert and key (PEM) or pkcs12 (with password)',
  });

const pki = z
  .strictObject({
    dir: path
      .default('certs')
      .describe(
        'Where `credgate init` (or the first start) writes the dev PKI and master.key; the defaults of server.tls, auth.clientCertificates.trust, scep.ra and ota.signing are files in it.',
      ),
    masterKey: secret(z.string().regex(/^[0-9a-fA-F]{64}$/, { message: 'expected 64 hex digits (a 256-bit key)' }))
      .optional()
      .describe('AES-256 key wrapping private keys at rest; else CREDGATE_MASTER_KEY, else <pki.dir>/master.key.'),
    allowInlineMasterKey: z
      .boolean()
      .default(false)
      .describe('Accept pki.masterKey written out in this file (rather than filled from ${VAR}); anyone who reads the file can then unwrap every key.'),
    devPki: z
      .strictObject({
        organization: z.string().default('credgate dev'),
        serverNames: z.array(z.string()).default(['localhost', '127.0.0.1', '::1']),
        adminSubject: z.string().default('credgate-admin'),
      })
      .prefault({})
      .describe('Subjects used when no PKI exists yet and one is generated at first start.'),
    cas: z.record(name, ca).optional().describe('Issuing CAs by name; omitted, one CA named "dev" is the dev PKI issuing CA.'),
    defaultCa: name.default('dev').describe('CA used by templates that name none.'),
    keyPolicy: z
      .strictObject({
        rsaMinBits: z.number().int().min(2048).default(2048),
        rsaAllowedBits: z.array(z.number().int()).default([2048, 3072, 4096]),
        ecCurves: z
          .array(z.enum(['P-256', 'P-384', 'P-521']))
          .default(['P-256', 'P-384'])
          .describe('EC curves accepted in requests; [] refuses EC keys.'),
      })
      .prefault({})
      .describe('Keys accepted in certificate requests.'),
    keyPool: z
      .partialRecord(keyAlgorithm, z.number().int().min(0).max(10_000))
      .default({ 'rsa-2048': 16 })
      .describe('Pre-generated keys kept ready per algorithm for server-side key generation; 0 disables.'),
    ocsp: z.strictObject({ validity: duration.default('1h').describe('nextUpdate of OCSP answers.') }).prefault({}),
  })
  .prefault({});

const sanTemplate = z.strictObject({
  type: z.enum(['email', 'dns', 'uri', 'ip', 'upn']),
  value: z.string().min(1).describe('May hold {{user.x}} / {{device.x}} placeholders.'),
  optional: z.boolean().default(false).describe('Leave the name out, instead of failing, when a placeholder has no value.'),
});

const template = z.strictObject({
  preset: z.enum(PRESET_NAMES).describe('Key usages and escrow default.'),
  ca: name.optional().describe('Issuing CA; defaults to pki.defaultCa.'),
  subject: z
    .string()
    .min(1)
    .superRefine((dn, ctx) => {
      try {
        for (const [type] of parseDnTemplate(dn)) {
          const problem = unknownAttributeType(type);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })
    .describe('Subject DN template, e.g. "CN={{user.displayName}}, O=Example Bank".'),
  subjectAltNames: z.array(sanTemplate).default([]),
  validity: duration.default('365d'),
  key: keyAlgorithm.default('rsa-2048').describe('Key generated on the server (CSR keys are checked against pki.keyPolicy).'),
  escrow: z.boolean().optional().describe('Keep the private key, wrapped, for re-delivery and recovery; defaults from the preset.'),
});

export const DEFAULT_TEMPLATES = {
  'smime-signing': {
    preset: 'smime-signing',
    subject: 'CN={{user.displayName}}, E={{user.email}}',
    subjectAltNames: [
      { type: 'email', value: '{{user.email}}' },
      { type: 'upn', value: '{{user.upn}}', optional: true },
    ],
  },
  'smime-encryption': {
    preset: 'smime-encryption',
    subject: 'CN={{user.displayName}}, E={{user.email}}',
    subjectAltNames: [{ type: 'email', value: '{{user.email}}' }],
  },
  'device-identity': {
    preset: 'device-identity',
    subject: 'CN={{device.serialNumber}}',
    subjectAltNames: [{ type: 'uri', value: 'urn:device:{{device.id}}', optional: true }],
    validity: '730d',
  },
  'tls-client': {
    preset: 'tls-client',
    subject: 'CN={{user.userName}}',
    subjectAltNames: [{ type: 'upn', value: '{{user.upn}}', optional: true }],
  },
  'derived-piv-auth': {
    preset: 'derived-piv-auth',
    subject: 'CN={{user.displayName}}',
    subjectAltNames: [{ type: 'upn', value: '{{user.upn}}' }],
  },
} as const;

const scepProfile = z
  .strictObject({
    template: name.default('device-identity').describe('Template of the certificates this profile issues.'),
    challenge: z
      .union(
        [
          z.literal('dynamic'),
          z.literal('none'),
          z.strictObject({ static: secret(z.string().min(8)).describe('Shared challenge password, e.g. ${SCEP_CHALLENGE}.') }),
          z.strictObject({
            connector: name.describe(
              'Id of the connector (config/connectors/<id>.yaml) that validates the challenges its MDM gave its devices, e.g. an Intune connector.',
            ),
          }),
          // { <kind>: <id> }: the same, and the connector must be of that kind (src/app/scep-challenge-connector.ts).
          z.strictObject({
            intune: name.describe('Id of the Intune connector (config/connectors/<id>.yaml) whose tenant validates the challenges Intune gave its devices.'),
          }),
        ],
        { error: 'expected "dynamic", "none", { static: <challenge> }, { connector: <connector id> } or { intune: <connector id> }' },
      )
      .default('dynamic')
      .describe(
        '"dynamic": one-time challenges from the admin API (and OTA); { static: ... } for MDM-driven enrollment; { connector: <connector id> } for SCEP profiles whose MDM validates the challenges (Intune), or { intune: <connector id> }, which also requires an Intune connector; "none" only with approval.',
      ),
    challengeTtl: duration.default('1h').describe('Lifetime of one-time challenges.'),
    approval: z.boolean().default(false).describe('Requests wait (PENDING) until an operator approves them.'),
    renewal: z.boolean().default(true).describe('Accept RenewalReq signed by a valid certificate this gateway issued, without a challenge.'),
    names: namesSetting({ sources: ['request', 'mdm', 'template'] }).describe(
      "Where the names of issued certificates come from. request (default): the request's subject attributes as `subject` allows them (default CN, O, OU, L, ST, C, serialNumber, one each, plain text) and no subjectAltName unless `subjectAltNames` lists its type; mdm (default when a connector validates the challenges): as the MDM (Intune) validated them; template: the template's, filled from {{challenge.<attribute>}}, the values a one-time challenge was bound to; the request's names are ignored.",
    ),
  })
  .superRefine((p, ctx) => {
    const byConnector = typeof p.challenge === 'object' && !('static' in p.challenge);
    if (p.names.source === 'mdm' && !byConnector)
      ctx.addIssue({
        code: 'custom',
        path: ['names', 'source'],
        message: 'mdm: names as the MDM validated them needs an MDM that validates requests: challenge { connector: <connector id> }',
      });
  });

const scep = z
  .strictObject({
    ra: z
      .strictObject({ cert: path, key: path })
      .optional()
      .describe("Registration authority certificate and key (keyUsage digitalSignature + keyEncipherment); default: the dev PKI's scep-ra.pem."),
    profiles: z.record(name, scepProfile).prefault({ default: {} }).describe('SCEP profiles by name; "default" answers at /scep, others at /scep/<name>.'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .optional()
      .describe(
        'PKIOperations worked on at once; the rest wait their turn in arrival order. Default: twice the CPU count, enough to keep the CPUs and signing threads busy.',
      ),
    maxQueued: z.number().int().min(0).default(1024).describe('PKIOperations that may wait their turn; more get 503 with Retry-After.'),
  })
  .prefault({});

/** Where a credential profile's certificate goes on a mobile device: the system store, Citrix SecureVault, MobileIron AppConnect, or none (the Identity Agent's own store). */
export const CERTIFICATE_CONTAINERS = ['none', 'system-store', 'citrix-securevault', 'mobileiron-appconnect'] as const;

/** How a credential profile's certificates reach the device (what MyID calls the card encoding). */
export const CARD_ENCODINGS = ['identity-agent', 'device-identity', 'derived-credential'] as const;
/** Which devices may collect: any, known (registered) or mine (registered to the user); MyID's Any, Known Mobiles and My Mobiles Only. */
export const DEVICE_RESTRICTIONS = ['any', 'known', 'mine'] as const;
/** Per certificate: issue a new one, reuse the user's current escrowed one, or deliver only earlier ones (src/identity/escrowed-keys.ts). */
export const HISTORIC_OPTIONS = ['issue-new', 'use-existing', 'historic-only'] as const;
/** What a certificate is for: the tag MobileIron AppConnect gives each derived credential. */
export const CERTIFICATE_PURPOSES = ['authentication', 'signing', 'encryption'] as const;
/** What the role lists of a credential profile grant (src/identity/profiles.ts). */
export const PROFILE_ROLE_KINDS = ['request', 'receive', 'validate', 'collect', 'unlock'] as const;

/** `xx-yyN`: one-time codes of xx to yy digits (src/identity/otp.ts). */
export const otpComplexity = z
  .string()
  .regex(/^\d{2}-\d{2}N$/, { message: 'expected "xx-yyN", e.g. "04-08N" for 4 to 8 digits' })
  .refine((s) => Number(s.slice(0, 2)) >= 4 && Number(s.slice(0, 2)) <= Number(s.slice(3, 5)) && Number(s.slice(3, 5)) <= 32, {
    message: 'the minimum length must be at least 4 and at most the maximum, which is at most 32',
  });

const roleList = (fallback: string[], what: string) => z.array(z.string().min(1)).default(fallback).describe(`Roles that ${what}; "*" is anyone.`);

const credentialProfile = z
  .strictObject({
    description: z.string().max(512).optional(),
    encoding: z.enum(CARD_ENCODINGS).default('identity-agent').describe('identity-agent (collected by the app), device-identity, or derived-credential.'),
    certificates: z
      .array(
        z.strictObject({
          template: name.optional().describe('Template the certificate is issued from; give either template or unmanaged.'),
          unmanaged: z
            .enum(CERTIFICATE_PURPOSES)
            .optional()
            .describe(
              "The person's uploaded certificate issued elsewhere for this purpose (authentication, signing or encryption; POST /api/v1/users/{user}/certificates), delivered instead of one issued here; a request for someone who has none is refused.",
            ),
          container: z
            .enum(CERTIFICATE_CONTAINERS)
            .default('system-store')
            .describe('Certificate store on the device; iOS OTA delivers the system-store ones.'),
          historic: z
            .enum(HISTORIC_OPTIONS)
            .optional()
            .describe('issue-new (default), use-existing (the current escrowed certificate, new if none) or historic-only.'),
          includeHistoric: z
            .boolean()
            .optional()
            .describe(
              "Also deliver the user's earlier escrowed certificates of this template, to read old encrypted mail; on mobileiron-appconnect encryption certificates on unless false, as extra encryption entries.",
            ),
          purpose: z
            .enum(CERTIFICATE_PURPOSES)
            .optional()
            .describe(
              "authentication, signing or encryption: the tag the Identity Agent delivers the credential with (MobileIron AppConnect); default from the template's preset.",
            ),
        }),
      )
      .min(1),
    deviceRestriction: z.enum(DEVICE_RESTRICTIONS).default('any').describe('any device; known: registered devices only; mine: devices registered to the user.'),
    requireValidation: z.boolean().default(false).describe('A second person (validate role, not the requester) approves each request and receives the code.'),
    authentication: z
      .array(z.enum(['pin', 'fingerprint', 'face']))
      .default(['pin'])
      .refine((a) => a.includes('pin'), { message: 'must include "pin": the PIN is the fallback when biometrics fail' })
      .describe('How the user unlocks the Identity Agent key store: pin always, plus fingerprint and/or face.'),
    roles: z
      .strictObject({
        request: roleList(['admin'], 'may request this profile for someone (or themselves)'),
        receive: roleList(['*'], 'the recipient must hold'),
        validate: roleList(['admin'], 'may validate requests'),
        collect: roleList(['*'], 'the recipient needs to collect'),
        unlock: roleList(['admin'], 'may give unlock codes'),
      })
      .prefault({}),
    badges: profileBadges
      .optional()
      .describe(
        'Badges its mobile IDs carry to the Identity Agent: layouts from badges.layouts, and the default one (identity-agent and derived-credential profiles).',
      ),
    otpComplexity: otpComplexity.default('04-08N').describe('Length of one-time codes, "xx-yyN": xx to yy digits.'),
    requestExpiry: duration.default('7d').describe('How long a request and its code stay usable.'),
  })
  .superRefine((p, ctx) => {
    p.certificates.forEach((c, i) => {
      if ((c.template === undefined) === (c.unmanaged === undefined))
        ctx.addIssue({
          code: 'custom',
          path: ['certificates', i],
          message: 'give either template (issued here) or unmanaged (an uploaded certificate issued elsewhere)',
        });
      for (const option of ['historic', 'includeHistoric', 'purpose'] as const) {
        if (c.unmanaged !== undefined && c[option] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['certificates', i, option],
            message: `an unmanaged certificate takes no ${option}: it is the person's one current upload for "${c.unmanaged}"`,
          });
      }
      // Historic certificates, delivered as certificates of their own, cannot go to Citrix SecureVault or MobileIron AppConnect.
      // AppConnect's derived-credential store has a place for older keys, though: they ride along as extra `encryption` entries of the
      // encryption credential. So on an AppConnect certificate includeHistoric means that (startup checks it is an encryption
      // certificate), while historic-only, a container of nothing but old certificates, stays refused.
      const refused =
        c.container === 'citrix-securevault'
          ? c.includeHistoric || c.historic === 'historic-only'
          : c.container === 'mobileiron-appconnect' && c.historic === 'historic-only';
      if (refused) ctx.addIssue({ code: 'custom', path: ['certificates', i], message: `historic certificates cannot be provisioned to ${c.container}` });
    });
    if (p.encoding === 'device-identity' && p.badges) {
      ctx.addIssue({
        code: 'custom',
        path: ['badges'],
        message: 'device-identity profiles are not collected by the Identity Agent, which is what shows badges; remove badges',
      });
    }
    if (p.encoding === 'derived-credential' && p.requireValidation) {
      ctx.addIssue({
        code: 'custom',
        path: ['requireValidation'],
        message: 'a derived credential is vouched for by the PIV card it is derived from; requireValidation cannot be true',
      });
    }
  });

export const DEFAULT_CREDENTIAL_PROFILES = {
  smime: {
    description: 'S/MIME signing and encryption certificates',
    certificates: [{ template: 'smime-signing' }, { template: 'smime-encryption' }],
  },
} as const;

const payloadIdentifier = z
  .string()
  .regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, { message: 'expected a reverse-DNS identifier such as "com.example.credgate"' });

const ota = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve iOS over-the-air enrollment at /ota.'),
    organization: z.string().min(1).max(128).default('credgate').describe("Shown on the device as the profile's organization."),
    displayName: z.string().min(1).max(128).default('Certificate enrollment').describe("Shown on the device as the profile's name."),
    description: z
      .string()
      .min(1)
      .max(1024)
      .default('Installs your certificates and the certificate authority they chain to.')
      .describe('Shown on the device when the profile is installed.'),
    signing: z
      .strictObject({ cert: path, key: path, chain: z.array(path).default([]) })
      .optional()
      .describe("Certificate and key that sign the profiles (any certificate fit for signing); default: the dev PKI's ota-signing.pem."),
    deviceCa: z
      .array(path)
      .default([])
      .describe(
        'PEM files of the CAs that issue iPhones\' built-in identities ("Apple iPhone Device CA"); none: devices cannot finish enrollment and the admin API refuses new enrollments.',
      ),
    scepProfile: name.default('default').describe('SCEP profile (with one-time challenges) that issues the device identity the final profile is encrypted to.'),
    enrollmentTtl: duration.default('24h').describe('How long an enrollment code and its enrollment stay usable.'),
    payloadIdentifier: payloadIdentifier.default('com.credgate.ota').describe('Prefix of the PayloadIdentifiers; a re-enrolled device replaces its profile.'),
    encryption: z
      .enum(['aes-256-cbc', 'des-ede3-cbc'])
      .default('aes-256-cbc')
      .describe('Cipher of the encrypted final profile; des-ede3-cbc for very old devices.'),
  })
  .prefault({});

const smsGateway = z.strictObject({
  url: secret(z.url()).describe('Gateway endpoint; {{mobile}} and {{message}} in it are URL-encoded.'),
  method: z.enum(['GET', 'POST', 'PUT']).default('POST'),
  headers: z.record(z.string(), secret(z.string())).default({}).describe('Extra headers, e.g. Authorization: "Bearer ${SMS_TOKEN}".'),
  contentType: z
    .enum(['application/json', 'application/x-www-form-urlencoded', 'text/plain'])
    .default('application/json')
    .describe('Body type; placeholders in the body are escaped for it.'),
  body: secret(z.string())
    .default('{"to": "{{mobile}}", "text": "{{message}}"}')
    .describe("Body template with {{mobile}} and {{message}} (the equivalent of MyID's customSendSMS)."),
  timeout: duration.default('10s'),
});

const notify = z
  .strictObject({
    email: z
      .strictObject({
        host: z.string().min(1).describe('SMTP server.'),
        port: port.default(587),
        secure: z.boolean().default(false).describe('TLS from the first byte (usually port 465); otherwise STARTTLS.'),
        requireTls: z.boolean().default(true).describe('Refuse to send unless the connection is encrypted (STARTTLS).'),
        ca: path.optional().describe("PEM of the CA that issued the SMTP server's certificate, when not a public one."),
        user: z.string().optional(),
        password: secret(z.string()).optional().describe('Use ${SMTP_PASSWORD}.'),
        from: z.string().min(3).describe('Sender, e.g. "Example Bank <certificates@example.com>".'),
      })
      .optional()
      .describe('Email (HTML) through SMTP; without it nothing is sent by email.'),
    sms: smsGateway.optional().describe('SMS through an HTTP gateway; without it nothing is sent by SMS.'),
  })
  .prefault({});

const mobile = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve the Identity Agent API at /mobile/v1.'),
    maxSessions: z
      .number()
      .int()
      .min(-1)
      .default(-1)
      .describe('Concurrent Identity Agent sessions: -1 unlimited, 0 no mobile issuance, N: more get 503 with Retry-After.'),
    retryAfter: duration.default('30s').describe('Retry-After sent with 503 when maxSessions is reached.'),
    sessionTtl: duration.default('15m').describe('How long a session token works.'),
    maxCodeAttempts: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(5)
      .describe(
        'Wrong one-time codes with the request id before the request locks; as many with the user name, which never lock, and it no longer opens by user name.',
      ),
    maxFailuresPerAddress: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(20)
      .describe(
        "Failed session starts (unknown request, wrong code) one address may make within a minute; the rest of the minute it gets 429 with Retry-After. The address is the peer's, or the client's from X-Forwarded-For with server.trustProxy.",
      ),
    otpDelivery: z
      .enum(['screen', 'sms', 'email'])
      .default('screen')
      .describe(
        'Where the one-time code goes: screen (to the requester, or validator), sms (the notification then goes by email), or email (with the notification).',
      ),
    appLink: z
      .string()
      .regex(/^[a-z][a-z0-9+.-]*:/, { message: 'expected a URL or app link such as credgate://collect' })
      .default('credgate://collect')
      .describe('Link in notifications and QR codes that opens the Identity Agent.'),
    policy: z
      .strictObject({
        logLevel: z.number().int().min(0).max(6).default(2).describe('0 none, 1 fatal, 2 error, 3 warning, 4 info, 5 debug, 6 verbose.'),
        maxLogFiles: z.number().int().min(-1).default(-1).describe('-1: as many as fit; 0 turns logging off.'),
        maxLogStorageMb: z.number().int().min(1).default(10),
        adminEmail: z.email().optional().describe('Where the app sends its logs.'),
        maxRetries: z.number().int().min(0).default(5).describe('Reconnection attempts after a lost connection.'),
        minRetryDelay: duration.default('10s'),
      })
      .prefault({})
      .describe('Identity Agent policy, served at /mobile/v1/policy.'),
    contentSigning: z
      .strictObject({
        cert: path.describe('The content-signing certificate (PEM): RSA of 2048 bits or more (RS256), or EC P-256 (ES256) or P-384 (ES384).'),
        key: path.describe('Its private key (PEM; encrypted under the master key or plain).'),
        chain: z.array(path).default([]).describe('Its issuers up to the root (PEM), published with it in the signer set.'),
        previous: z
          .strictObject({
            cert: path.describe('The certificate being rolled over from (PEM).'),
            key: path.describe('Its private key (PEM).'),
            chain: z.array(path).default([]),
            until: z.iso
              .datetime({ offset: true, message: 'expected a date and time such as "2027-03-31T00:00:00Z"' })
              .describe('Until when apps accept it: answers carry its signature beside the current one until then (at most until it expires).'),
          })
          .optional()
          .describe('During a rollover: the previous certificate, still signing beside the current one so apps that hold only it keep verifying.'),
      })
      .optional()
      .describe(
        "Certificate and key that sign everything the Identity Agent receives from /mobile/v1 and the badges' holder assertions; default: the dev PKI's content-signing.pem (EC P-256).",
      ),
    assertions: z
      .strictObject({
        ttl: duration
          .default('5m')
          .refine((d) => durationMs(d) >= 30_000 && durationMs(d) <= 3_600_000, { message: 'must be between 30s and 1h' })
          .describe("How long a badge's holder assertion (its QR code) is valid."),
      })
      .prefault({})
      .describe('Holder assertions: the signed, short-lived QR code of a badge that another phone verifies.'),
    renewal: z
      .strictObject({
        noticeBefore: duration.default('30d').describe('Send a renewal notice this long before the first certificate of a mobile ID expires.'),
        channels: z
          .array(z.enum(['email', 'sms']))
          .default(['email'])
          .describe('email, sms or both.'),
        checkEvery: duration.default('1h'),
      })
      .prefault({}),
  })
  .prefault({});

const derivedCredentials = z
  .strictObject({
    pivTrust: z
      .array(path)
      .default([])
      .describe(
        'PEM files of the CAs that issue PIV cards (roots or intermediates); the HTTPS listener also accepts client certificates from them. Empty: no derived-credential page at /derived/.',
      ),
    acceptPolicies: z
      .union([z.literal('any'), z.array(z.string().regex(/^[0-2](\.\d+)+$/, 'a dotted OID such as 2.16.840.1.101.3.2.1.3.13')).min(1)])
      .default([...PIV_AUTHENTICATION_POLICIES])
      .describe(
        'Certificate policies a card certificate must assert one of: default PIV Authentication (2.16.840.1.101.3.2.1.3.13) and PIV-I hardware (2.16.840.1.101.3.2.1.3.18); Card Authentication certificates, which need no PIN, are refused. "any": enterprise cards whose issuer sets no policy.',
      ),
    credentialProfile: name.optional().describe('Credential profile (encoding derived-credential) the page requests; default: the only such profile.'),
    match: z
      .array(z.enum(['upn', 'email']))
      .min(1)
      .default(['upn', 'email'])
      .describe('Names on the card that find its holder among the users, tried in order: upn (UPN otherName), email (rfc822Name), both in the subjectAltName.'),
    maxRequestsPerDay: z.number().int().min(1).max(100).default(5).describe('Requests one card may make in 24 hours.'),
    rederiveBy: z
      .number()
      .int()
      .min(50)
      .max(95)
      .default(80)
      .describe(
        "Percent of a derived credential's lifetime by which its holder should have derived a new one (Intune: before 80%); the notice goes mobile.renewal.noticeBefore earlier.",
      ),
  })
  .prefault({});

const network = z.string().refine((s) => z.cidrv4().safeParse(s).success || z.cidrv6().safeParse(s).success, {
  message: 'expected a network in CIDR form, such as "10.0.0.0/8", "192.0.2.7/32" or "fd00::/8"',
});

const metrics = z
  .strictObject({
    enabled: z.boolean().default(true),
    allow: z
      .array(network)
      .default(['127.0.0.0/8', '::1/128'])
      .describe(
        'Networks whose callers may read /metrics, by the TCP peer address (never X-Forwarded-For; a request that came through a proxy is not admitted by address); [] admits none by address.',
      ),
    token: secret(z.string().min(16, { message: 'expected a token of at least 16 characters; set it with ${ENV_VAR}' }))
      .optional()
      .describe('Bearer token that admits a caller from anywhere (Authorization: Bearer <token>); use ${METRICS_TOKEN}.'),
    listener: z
      .strictObject({
        host: z.string().default('127.0.0.1').describe('Address to bind.'),
        port: port.describe('Plain HTTP port; 0 picks a free one.'),
      })
      .optional()
      .describe('Serve /metrics on this plain-HTTP listener only, not on the HTTPS one; allow and token still decide who may read it.'),
  })
  .prefault({})
  .describe('Prometheus metrics at /metrics: by default only callers on this host may read them.');

export const configSchema = z
  .strictObject({
    server,
    database,
    auth,
    jobs,
    pki,
    logging: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        format: z
          .enum(['pretty', 'json'])
          .optional()
          .describe(
            'pretty: readable lines for a person; json: one JSON object per line, for log collectors. Unset: pretty when stdout is a terminal, json otherwise.',
          ),
      })
      .prefault({}),
    templates: z
      .record(name, template)
      .prefault(DEFAULT_TEMPLATES as never)
      .describe('Certificate templates by name.'),
    scep,
    credentialProfiles: z
      .record(name, credentialProfile)
      .prefault(DEFAULT_CREDENTIAL_PROFILES as never)
      .describe('Credential profiles by name: the certificates a user receives together, and where each goes on the device.'),
    ota,
    notify,
    mobile,
    badges,
    derivedCredentials: derivedCredentials.describe("Derived credentials (PIV): the card holder's request page and what a card management system reports."),
    connectors: z
      .strictObject({
        dir: path.default('config/connectors').describe('Each <id>.yaml here configures one MDM connector (see config/connectors/examples/).'),
      })
      .prefault({}),
    metrics,
  })
  .superRefine((c, ctx) => {
    // A job may hold a pooled connection for a per-user lock while its own queries need another.
    if (c.database.client === 'mysql' && c.database.pool.max <= c.jobs.workers) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'pool', 'max'],
        message: `must be larger than jobs.workers (${c.jobs.workers}): each worker may hold a connection for a lock while it needs another`,
      });
    }
  })
  .transform(withPkiDirDefaults);

/**
 * Settings left out that default to files of the dev PKI are files in
 * pki.dir, so that moving pki.dir moves everything `credgate init` writes.
 * (scep.ra, ota.signing, the "dev" CA and master.key are looked up in pki.dir
 * where they are used.)
 */
function withPkiDirDefaults<
  C extends {
    pki: { dir: string };
    server: { tls: { cert?: string | undefined; key?: string | undefined } };
    auth: { clientCertificates: { trust?: string[] | undefined } };
  },
>(c: C) {
  const f = devPkiFiles(c.pki.dir);
  return {
    ...c,
    server: { ...c.server, tls: { cert: c.server.tls.cert ?? f.serverCert, key: c.server.tls.key ?? f.serverKey } },
    auth: { ...c.auth, clientCertificates: { ...c.auth.clientCertificates, trust: c.auth.clientCertificates.trust ?? [f.rootCert, f.issuingCert] } },
  };
}

export type Config = z.infer<typeof configSchema>;
export type ClientCertRule = z.infer<typeof clientCertRule>;
export type BasicUser = z.infer<typeof basicUser>;
export type OperatorRoleConfig = z.infer<typeof operatorRole>;
export type OperatorScopeName = (typeof OPERATOR_SCOPES)[number];
export type OperatorRight = (typeof OPERATOR_RIGHTS)[number];
export type CaConfig = z.infer<typeof ca>;
export type TemplateConfig = z.infer<typeof template>;
export type ScepProfileConfig = z.infer<typeof scepProfile>;
export type CredentialProfileConfig = z.infer<typeof credentialProfile>;
export type OtaConfig = z.infer<typeof ota>;
export type NotifyConfig = z.infer<typeof notify>;
export type MobileConfig = z.infer<typeof mobile>;
export type DerivedCredentialsConfig = z.infer<typeof derivedCredentials>;
