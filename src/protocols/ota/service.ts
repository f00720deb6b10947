/**
 * iOS over-the-air enrollment, in the three phases of Apple's "Over-the-Air
 * Profile Delivery and Configuration" (docs/architecture.md, "iOS
 * over-the-air enrollment"). An operator authorises an enrollment and sends
 * the user a one-time code; the code opens the intermediate page and the
 * Profile Service payload; the device's signed attributes bind the
 * enrollment to it and get a SCEP payload with a challenge bound to its
 * UDID; signed again with that SCEP identity, the device gets its
 * credential profile's certificates as PKCS#12, encrypted to that identity.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual, type X509Certificate } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { EscrowedKeys } from '../../identity/escrowed-keys.js';
import { MYID_REFUSALS } from '../../identity/requests.js';
import type { UnmanagedCertificates } from '../../identity/unmanaged-certificates.js';
import type { CaRegistry } from '../../pki/ca.js';
import { buildEnvelopedData, type ContentCipher } from '../../pki/cms/enveloped-data.js';
import { buildSignedData } from '../../pki/cms/signed-data.js';
import { IssuanceError } from '../../pki/issuer.js';
import type { Signer } from '../../pki/native-signer.js';
import { renderNames, TemplateError, type NameTemplate } from '../../pki/template.js';
import { normalizeSerialHex } from '../../pki/x509-der.js';
import type { AuditRepository } from '../../store/audit.js';
import type { CertificateRepository } from '../../store/certificates.js';
import type { Db } from '../../store/db.js';
import type { OtaDevice, OtaEnrollment, OtaEnrollmentRepository } from '../../store/ota.js';
import { Refusal } from '../../util/refusal.js';
import { commonName, credentialPayloads, type OtaCredential, type OtaCredentials, type OtaSlot } from './credentials.js';
import { chainsTo, DeviceRequestError, readDeviceRequest, type DeviceRequest } from './device-request.js';
import { codeFormPage, enrollPage } from './page.js';
import { writePlist, type PlistDict } from './plist.js';
import { encryptedConfiguration, profileService, scepConfiguration, type ProfileTexts } from './profiles.js';

/** A refusal the caller (operator, browser or device) is told about. */
export class OtaError extends Refusal {
  constructor(kind: 'bad_request' | 'forbidden' | 'not_found' | 'conflict' | 'gone' | 'not_ready', message: string) {
    super(kind, message);
  }
}

/** One-time SCEP challenges (the SCEP server's DynamicChallenges). */
export interface ChallengeIssuer {
  /** A new challenge in place of the unused ones `createdBy` made before, in the caller's transaction. */
  reissue(
    trx: Knex.Transaction,
    c: { profile: string; ttlMs: number; binding?: Record<string, string>; exact?: boolean; createdBy: string },
  ): Promise<{ challenge: string; expiresAt: number }>;
}

export interface OtaCredentialProfile {
  /** The certificates that go to the iOS system store, with their `historic` and `includeHistoric` options, or the person's upload for a purpose. */
  certificates: OtaSlot[];
}

export interface OtaServiceDeps {
  db: Db;
  enrollments: OtaEnrollmentRepository;
  audit: AuditRepository;
  /** What the final profile carries. */
  credentials: OtaCredentials;
  /** The user's escrowed keys, for a profile that delivers only earlier ones. */
  keys: EscrowedKeys;
  cas: CaRegistry;
  certificates: CertificateRepository;
  challenges: ChallengeIssuer;
  scep: { profile: string; url: string; caName: string; caFingerprint: Buffer; challengeTtlMs: number };
  signing: { signer: Signer; cert: Buffer; chain: Buffer[] };
  /** Trusted issuers of iPhones' built-in identities; empty: phase 2 is refused. */
  deviceCas: X509Certificate[];
  credentialProfiles: Record<string, OtaCredentialProfile>;
  /** Whether a person has a valid uploaded certificate issued elsewhere for a purpose. */
  unmanaged: Pick<UnmanagedCertificates, 'has'>;
  /** Name templates, to check at creation that the user data fills them. */
  templates: Record<string, NameTemplate>;
  texts: ProfileTexts;
  payloadIdentifier: string;
  cipher: ContentCipher;
  enrollmentTtlMs: number;
  baseUrl: string;
  /** Secret for code HMACs and phase-2 challenges (derived from the master key). */
  key: Buffer;
  log: Logger;
}

export interface NewEnrollment {
  credentialProfile: string;
  user: Record<string, string>;
  ttlMs?: number;
  createdBy: string;
}

export interface CreatedEnrollment {
  id: string;
  code: string;
  url: string;
  expiresAt: number;
}

const USER_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const MAX_USER_KEYS = 32;
// 40 hex digits (older devices) or 8-16 hex digits (A12 and later); serials are alphanumeric.
const UDID = /^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{16})$/;
const SERIAL = /^[A-Za-z0-9]{6,32}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
// How long an 'issuing' claim may sit before another instance may take it over (a crashed issue).
const CLAIM_STALE_MS = 2 * 60_000;

const PROFILE_TYPE = 'application/x-apple-aspen-config';
export { PROFILE_TYPE };

export class OtaService {
  constructor(private readonly deps: OtaServiceDeps) {}

  private mac(purpose: string, value: string): Buffer {
    return createHmac('sha256', this.deps.key).update(`${purpose}\n${value}`).digest();
  }

  /** The phase-2 challenge of an enrollment: derived, so phase 1 may be fetched again and nothing secret is stored. */
  private phase2Challenge(id: string): string {
    return this.mac('ota phase-2 challenge', id).toString('base64url');
  }

  get ready(): boolean {
    return this.deps.deviceCas.length > 0;
  }

  async create(req: NewEnrollment): Promise<CreatedEnrollment> {
    if (!this.ready)
      throw new OtaError('not_ready', 'ota.deviceCa is not configured, so no device could finish enrolling; set it to the Apple iPhone Device CA certificate');
    const profile = this.deps.credentialProfiles[req.credentialProfile];
    if (!profile)
      throw new OtaError(
        'bad_request',
        `no credential profile "${req.credentialProfile}"; configured: ${Object.keys(this.deps.credentialProfiles).join(', ') || 'none'}`,
      );
    if (profile.certificates.length === 0)
      throw new OtaError(
        'bad_request',
        `credential profile "${req.credentialProfile}" has no certificate in the system-store container, which is all iOS OTA installs`,
      );
    this.checkUser(req.user, profile);
    await this.checkEarlierCertificates(req.credentialProfile, req.user, profile);
    const ttlMs = req.ttlMs ?? this.deps.enrollmentTtlMs;
    const id = randomUUID();
    const code = randomBytes(16).toString('base64url');
    const expiresAt = Date.now() + ttlMs;
    const userId = req.user.id ?? req.user.email ?? null;
    await this.deps.db.transaction(async (trx) => {
      await this.deps.enrollments.insert(trx, {
        id,
        codeDigest: this.mac('ota code', code).toString('hex'),
        credentialProfile: req.credentialProfile,
        userId,
        user: req.user,
        createdBy: req.createdBy,
        expiresAt,
      });
      await this.deps.audit.append(trx, {
        actor: req.createdBy,
        action: 'ota.enrollment.create',
        subjectType: 'ota-enrollment',
        subjectId: id,
        detail: { credentialProfile: req.credentialProfile, userId, expiresAt },
      });
    });
    this.deps.log.info({ enrollment: id, credentialProfile: req.credentialProfile, userId }, 'OTA enrollment created');
    return { id, code, url: `${this.deps.baseUrl}/ota?code=${encodeURIComponent(code)}`, expiresAt };
  }

  /** The user data must fill every certificate's names now, not fail on the device later. */
  private checkUser(user: Record<string, string>, profile: OtaCredentialProfile): void {
    const entries = Object.entries(user);
    if (entries.length > MAX_USER_KEYS) throw new OtaError('bad_request', `user has more than ${MAX_USER_KEYS} attributes`);
    for (const [k, v] of entries) {
      if (!USER_KEY.test(k)) throw new OtaError('bad_request', `user attribute name "${k.slice(0, 64)}" must be letters, digits and _`);
      if (typeof v !== 'string' || v.length > 256 || CONTROL.test(v))
        throw new OtaError('bad_request', `user.${k} must be a string of at most 256 characters without control characters`);
    }
    // Device attributes are not known yet; stand-ins show only what the user data lacks.
    const device = { id: 'x', udid: 'x', serialNumber: 'x', imei: 'x', product: 'x', osVersion: 'x', name: 'x' };
    for (const { template, historic } of profile.certificates) {
      if (template === undefined || historic === 'historic-only') continue;
      try {
        renderNames(template, this.deps.templates[template]!, { user, device });
      } catch (err) {
        if (err instanceof TemplateError) throw new OtaError('bad_request', err.message);
        throw err;
      }
    }
  }

  /** The person must have a valid upload for each unmanaged slot; a profile of earlier certificates only is useless to someone who has none. */
  private async checkEarlierCertificates(name: string, user: Record<string, string>, profile: OtaCredentialProfile): Promise<void> {
    const holder = await this.deps.keys.holderOf({ id: user.id ?? user.email, email: user.email, upn: user.upn });
    // An upload issued elsewhere cannot be made here: the person must have a valid one for each such slot.
    for (const c of profile.certificates) {
      if (c.unmanaged === undefined || (holder && (await this.deps.unmanaged.has(holder, c.unmanaged)))) continue;
      throw new OtaError(
        'bad_request',
        `${MYID_REFUSALS.noCertificates} "${name}" delivers the user's ${c.unmanaged} certificate issued elsewhere, and the directory person this user is has no valid one uploaded (POST /api/v1/users/{user}/certificates)`,
      );
    }
    if (!profile.certificates.every((c) => c.template !== undefined && c.historic === 'historic-only')) return;
    for (const c of profile.certificates) if (holder && c.template !== undefined && (await this.deps.keys.of(holder, c.template)).length > 0) return;
    throw new OtaError('bad_request', `credential profile "${name}" delivers only earlier escrowed certificates, and this user has none`);
  }

  async get(id: string): Promise<OtaEnrollment | undefined> {
    return this.deps.enrollments.get(id);
  }

  /**
   * The enrollment a user's code opens, until it expires or completes. A
   * device whose attempt failed half-way (a SCEP step that did not finish,
   * a profile removed) opens it again; which device it is, only its signed
   * attributes tell (phase 2), and another device is refused there.
   */
  private async byCode(code: string): Promise<OtaEnrollment> {
    const e = code.length <= 64 ? await this.deps.enrollments.byCode(this.mac('ota code', code).toString('hex')) : undefined;
    if (!e) throw new OtaError('not_found', 'unknown enrollment code; ask your administrator for a new link');
    if (e.expiresAt <= Date.now()) throw new OtaError('gone', 'this enrollment code has expired; ask your administrator for a new link');
    if (e.status === 'completed') throw new OtaError('gone', 'this enrollment code was already used by a device; ask your administrator for a new link');
    return e;
  }

  /** The intermediate page, or the code form when there is no code. */
  async page(code: string | undefined): Promise<string> {
    if (!code) return codeFormPage(this.deps.texts);
    const e = await this.byCode(code);
    return enrollPage({
      texts: this.deps.texts,
      rootHref: `${this.deps.baseUrl}/pki/ca.cer`,
      rootName: 'the root certificate',
      enrollHref: `${this.deps.baseUrl}/ota/enroll?code=${encodeURIComponent(code)}`,
      expiresAt: new Date(e.expiresAt),
    });
  }

  /** Phase 1: the signed Profile Service payload. */
  async profileService(code: string): Promise<Buffer> {
    const e = await this.byCode(code);
    const payload = profileService(this.deps.texts, `${this.deps.payloadIdentifier}.profile-service`, this.profileUrl(e.id), this.phase2Challenge(e.id));
    this.deps.log.info({ enrollment: e.id }, 'OTA profile service payload served');
    return this.sign(payload);
  }

  profileUrl(id: string): string {
    return `${this.deps.baseUrl}/ota/profile/${id}`;
  }

  /** Phases 2 and 3: what the device POSTs to the profile URL. */
  async deviceRequest(id: string, body: Buffer): Promise<Buffer> {
    const e = await this.deps.enrollments.get(id);
    if (!e) throw new OtaError('not_found', 'unknown enrollment');
    if (e.status === 'completed') throw new OtaError('gone', 'this enrollment is complete');
    if (e.expiresAt <= Date.now()) throw new OtaError('gone', 'this enrollment has expired');
    let request: DeviceRequest;
    try {
      request = readDeviceRequest(body);
    } catch (err) {
      if (err instanceof DeviceRequestError) throw new OtaError('bad_request', err.message);
      throw err;
    }
    // Phase 3 is signed by the identity our SCEP server issued; phase 2 by Apple's.
    const ourCa = this.deps.cas.issuerOf(request.signer);
    return ourCa ? this.phase3(e, request) : this.phase2(e, request);
  }

  private async phase2(e: OtaEnrollment, request: DeviceRequest): Promise<Buffer> {
    const log = this.deps.log.child({ enrollment: e.id, phase: 2 });
    if (!this.ready) throw new OtaError('forbidden', 'ota.deviceCa is not configured: device identities cannot be checked');
    if (!chainsTo(request.signer, request.certificates, this.deps.deviceCas)) {
      log.info({ signer: request.signer.subject.replace(/\n/g, ', ') }, 'OTA device request refused: untrusted device CA');
      throw new OtaError('forbidden', 'the device identity is not issued by a trusted device CA (ota.deviceCa)');
    }
    const a = request.attributes;
    const expected = Buffer.from(this.phase2Challenge(e.id));
    const given = Buffer.from(a.CHALLENGE ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      log.info('OTA device request refused: wrong challenge');
      throw new OtaError('forbidden', 'wrong or missing CHALLENGE');
    }
    const device = deviceOf(a);
    const again = e.status !== 'pending';
    // The bind holds the enrollment's row until commit, so a device repeating phase 2 is served one at a time, each time with a
    // new challenge that retires the one it was given before: only the SCEP payload installed last can enroll.
    const challenge = await this.deps.db.transaction(async (trx) => {
      if (!(await this.deps.enrollments.bind(trx, e.id, device))) return undefined;
      const issued = await this.deps.challenges.reissue(trx, {
        profile: this.deps.scep.profile,
        ttlMs: Math.min(this.deps.scep.challengeTtlMs, e.expiresAt - Date.now()),
        // The device gets this subject in the profile below and nothing else: the challenge certifies exactly it.
        binding: { O: this.deps.texts.organization, CN: device.udid },
        exact: true,
        createdBy: `ota:${e.id}`,
      });
      await this.deps.audit.append(trx, {
        actor: `ota-device:${device.udid}`,
        action: 'ota.enrollment.bind',
        subjectType: 'ota-enrollment',
        subjectId: e.id,
        detail: { udid: device.udid, serialNumber: device.serialNumber, product: device.product, osVersion: device.osVersion, ...(again && { again }) },
      });
      return issued.challenge;
    });
    if (challenge === undefined) {
      const now = await this.deps.enrollments.get(e.id);
      if (now?.device && now.device.udid !== device.udid) throw new OtaError('conflict', 'this enrollment belongs to another device');
      throw new OtaError('conflict', `this enrollment is ${now?.status ?? 'gone'}`);
    }
    log.info(
      { udid: device.udid, product: device.product, again },
      again ? 'OTA device started again; new SCEP challenge served' : 'OTA device bound; SCEP payload served',
    );
    return this.sign(
      scepConfiguration(this.deps.texts, `${this.deps.payloadIdentifier}.enrollment`, {
        url: this.deps.scep.url,
        name: this.deps.scep.caName,
        subject: [
          ['O', this.deps.texts.organization],
          ['CN', device.udid],
        ],
        challenge,
        caFingerprint: this.deps.scep.caFingerprint,
      }),
    );
  }

  private async phase3(e: OtaEnrollment, request: DeviceRequest): Promise<Buffer> {
    const log = this.deps.log.child({ enrollment: e.id, phase: 3 });
    const udid = e.device?.udid;
    if (!udid) throw new OtaError('conflict', 'no device has sent its attributes for this enrollment yet');
    const refusal = await this.identityRefusal(request.signer, udid, e);
    if (refusal) {
      log.info({ reason: refusal }, 'OTA final profile refused');
      throw new OtaError('forbidden', refusal);
    }
    if (request.attributes.UDID !== udid) throw new OtaError('forbidden', "the signed attributes are not from this enrollment's device");
    if (!(await this.deps.enrollments.claimForIssuing(e.id, udid, CLAIM_STALE_MS)))
      throw new OtaError('conflict', 'this enrollment is already being completed');

    let delivered: OtaCredential[];
    try {
      delivered = await this.deps.credentials.forDevice(e, udid, this.deps.credentialProfiles[e.credentialProfile]?.certificates ?? []);
    } catch (err) {
      await this.deps.enrollments.releaseClaim(e.id);
      if (err instanceof IssuanceError) {
        log.warn({ reason: err.message }, 'OTA certificates could not be issued');
        throw new OtaError('bad_request', `the certificates could not be issued: ${err.message}`);
      }
      throw err;
    }
    const payloads = credentialPayloads(`${this.deps.payloadIdentifier}.${e.credentialProfile}`, delivered);
    const encrypted = buildEnvelopedData(writePlist(payloads), request.signer, this.deps.cipher);
    const profile = await this.sign(encryptedConfiguration(this.deps.texts, `${this.deps.payloadIdentifier}.${e.credentialProfile}`, encrypted));

    const deviceCertSerial = normalizeSerialHex(request.signer.serialNumber);
    const issuedSerials = delivered.filter((c) => c.kind === 'new').map((c) => c.record.serial);
    const completed = await this.deps.db.transaction(async (trx) => {
      if (!(await this.deps.enrollments.complete(trx, e.id, { deviceCertSerial, issuedSerials }))) return false;
      await this.deps.audit.append(trx, {
        actor: `ota-device:${udid}`,
        action: 'ota.enrollment.complete',
        subjectType: 'ota-enrollment',
        subjectId: e.id,
        detail: { udid, deviceCertSerial, issuedSerials, delivered: delivered.map((c) => ({ serial: c.record.serial, kind: c.kind })) },
      });
      return true;
    });
    if (!completed) throw new OtaError('conflict', 'this enrollment was completed by another request');
    log.info({ udid, issuedSerials }, 'OTA enrollment completed');
    return profile;
  }

  /** Why `signer` may not stand for this enrollment's device, or undefined. */
  private async identityRefusal(signer: X509Certificate, udid: string, e: OtaEnrollment): Promise<string | undefined> {
    const ca = this.deps.cas.issuerOf(signer);
    if (!ca || !signer.verify(ca.cert.publicKey)) return 'the signing certificate is not issued by this gateway';
    const now = Date.now();
    if (Date.parse(signer.validFrom) > now || Date.parse(signer.validTo) < now) return 'the signing certificate is not valid now';
    const record = await this.deps.certificates.get(normalizeSerialHex(signer.serialNumber));
    if (record?.status !== 'valid') return 'the signing certificate is revoked or unknown';
    if (commonName(signer) !== udid) return 'the signing certificate belongs to another device';
    // Enrolled over SCEP for this enrollment, not an older identity of the same device.
    if (record.createdAt < e.createdAt) return 'the signing certificate predates this enrollment';
    return undefined;
  }

  private sign(profile: PlistDict): Promise<Buffer> {
    const { signer, cert, chain } = this.deps.signing;
    return buildSignedData({ content: writePlist(profile), signer, signerCert: cert, certificates: chain });
  }
}

function deviceOf(a: Record<string, string>): OtaDevice {
  const udid = a.UDID ?? '';
  if (!UDID.test(udid)) throw new OtaError('bad_request', 'UDID is missing or malformed');
  const serial = a.SERIAL;
  if (serial !== undefined && !SERIAL.test(serial)) throw new OtaError('bad_request', 'SERIAL is malformed');
  const short = (v: string | undefined, max: number) => (v && !CONTROL.test(v) ? v.slice(0, max) : null);
  const { CHALLENGE: _challenge, ...attributes } = a;
  return { udid, serialNumber: serial ?? null, product: short(a.PRODUCT, 64), osVersion: short(a.VERSION, 32), imei: short(a.IMEI, 32), attributes };
}
