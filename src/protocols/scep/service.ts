/**
 * The SCEP server's decisions (RFC 8894): who may enroll (challenge or a
 * certificate we issued, for renewal), what is issued (the profile's
 * template, with the request's own names), and one answer per
 * transactionID, however often the client resends or polls.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { scoped, type ScopedLog } from '../../observability/scoped-log.js';
import type { CaRegistry, CertificateAuthority } from '../../pki/ca.js';
import { CmsDecryptError, decryptEnvelopedDataWith } from '../../pki/cms/enveloped-data.js';
import { certsOnly } from '../../pki/cms/signed-data.js';
import type { CrlPublisher } from '../../pki/crl-publisher.js';
import { parseCsr, type ParsedCsr } from '../../pki/csr.js';
import { withoutChallengePassword } from '../../pki/csr-redaction.js';
import { IssuanceError, type Issuer } from '../../pki/issuer.js';
import { openBytes, sealBytes, type MasterKey } from '../../pki/key-wrap.js';
import { decideNames, type NameBinding, type NameDecision, type NamePolicy, type RequestedNames } from '../../pki/name-policy.js';
import { TemplateError, type TemplateData } from '../../pki/template.js';
import type { Signer } from '../../pki/native-signer.js';
import { formatName } from '../../pki/names.js';
import type { RsaDecryptor } from '../../pki/rsa-decrypt-thread.js';
import { normalizeSerialHex } from '../../pki/x509-der.js';
import type { AuditRepository } from '../../store/audit.js';
import type { CertificateRepository } from '../../store/certificates.js';
import type { Db } from '../../store/db.js';
import type { Sql } from '../../store/sql.js';
import { pendingContext, type ScepTransaction, type ScepTransactionRepository } from '../../store/scep.js';
import type { Admission } from '../../util/admission.js';
import { KeyedLock } from '../../util/keyed-lock.js';
import { Refusal } from '../../util/refusal.js';
import type { ChallengeContext, ChallengeValidator, ChallengeVerdict } from './challenges.js';
import { ContentError, readContent, type RequestContent } from './content.js';
import { buildCertRep, readPkiMessage, ScepMessageError, type CertRepStatus, type FailInfo, type PkiMessage, type ReplyTo } from './message.js';

export interface ScepProfile {
  name: string;
  template: string;
  validator: ChallengeValidator;
  /** Requests wait for an operator (CertPoll answers PENDING until then). */
  approval: boolean;
  /** RenewalReq signed by a valid certificate we issued is accepted without a challenge. */
  renewal: boolean;
  /** Where the names of its certificates come from (src/pki/name-policy.ts). */
  names: NamePolicy;
  /** Where challenges come from: `connector` when an MDM's connector decides them. */
  challengeKind: 'static' | 'dynamic' | 'none' | 'connector';
  /** Lifetime of one-time challenges made for this profile. */
  challengeTtlMs: number;
}

export interface RegistrationAuthority {
  cert: X509Certificate;
  /** Unwraps the content keys of requests (off the event loop: see rsa-decrypt-thread.ts). */
  decryptor: RsaDecryptor;
  signer: Signer;
}

export const CA_CAPS = ['POSTPKIOperation', 'SHA-256', 'SHA-512', 'SHA-1', 'AES', 'DES3', 'SCEPStandard', 'Renewal'];

export class ScepService {
  private readonly locks = new KeyedLock();

  constructor(
    private readonly deps: {
      db: Db;
      profiles: Map<string, ScepProfile>;
      ra: RegistrationAuthority;
      cas: CaRegistry;
      issuer: Issuer;
      templateCa: (template: string) => CertificateAuthority;
      /** A template's subject and subjectAltNames filled from `data` (profiles whose names come from the template). */
      renderNames: (template: string, data: TemplateData) => RequestedNames;
      /** Seals the requests that wait for an operator while a validator needs them as received. */
      master: MasterKey;
      certificates: CertificateRepository;
      transactions: ScepTransactionRepository;
      audit: AuditRepository;
      crls: CrlPublisher;
      /** PKIOperations are answered a few at a time, in arrival order. */
      admission: Admission;
      log: Logger;
    },
  ) {}

  profile(name: string): ScepProfile | undefined {
    return this.deps.profiles.get(name);
  }

  /** GetCACert: the issuing CA, the RA, and the CA's own issuers, as a certs-only SignedData. */
  caCertificates(profile: ScepProfile): Buffer {
    const ca = this.deps.templateCa(profile.template);
    return certsOnly([ca.cert.raw, this.deps.ra.cert.raw, ...ca.chain]);
  }

  /** Answers any pkiMessage with a signed CertRep; only a fault of ours throws, and Busy when too many wait. */
  pkiOperation(profile: ScepProfile, der: Buffer): Promise<Buffer> {
    return this.deps.admission.run(() => this.answer(profile, der));
  }

  /** The answer to a message that could not even be read (e.g. too large): a signed FAILURE for no transaction. */
  refuse(failInfo: FailInfo): Promise<Buffer> {
    return this.deps.admission.run(() => this.reply({ transactionId: '' }, { status: 'FAILURE', failInfo }));
  }

  private async answer(profile: ScepProfile, der: Buffer): Promise<Buffer> {
    let message: PkiMessage;
    try {
      message = readPkiMessage(der);
    } catch (err) {
      if (!(err instanceof ScepMessageError)) throw err;
      this.deps.log.info({ profile: profile.name, reason: err.message }, 'SCEP message refused');
      return this.reply(err.replyTo ?? { transactionId: '' }, { status: 'FAILURE', failInfo: err.failInfo });
    }
    const replyTo: ReplyTo = {
      transactionId: message.transactionId,
      senderNonce: message.senderNonce,
      signerCert: message.signerCert,
      cipher: message.envelope.cipher,
    };
    let content: RequestContent;
    try {
      content = readContent(message.type, await decryptEnvelopedDataWith(message.envelope, this.deps.ra.cert.raw, this.deps.ra.decryptor));
      if ('csr' in content && !this.signerHolds(message, content.csr)) throw new ContentError();
    } catch (err) {
      if (!(err instanceof CmsDecryptError) && !(err instanceof ContentError)) throw err;
      // One answer for every envelope that does not open to what its messageType requires, whatever the
      // reason (key, padding, structure, CSR signature, signer): anything finer is an oracle (content.ts).
      return this.reply(replyTo, { status: 'FAILURE', failInfo: 'badMessageCheck' });
    }
    const answer = await this.locks.run(`${profile.name}\n${message.transactionId}`, () => this.handle(profile, message, content));
    return this.reply(replyTo, answer);
  }

  /**
   * The request is signed with the key it asks to have certified (RFC 8894
   * §2.3: a self-signed certificate for that key), or is a RenewalReq signed
   * by a certificate of ours. Otherwise anyone could put a captured envelope
   * in a message of their own and have it answered to them.
   */
  private signerHolds(message: PkiMessage, csr: ParsedCsr): boolean {
    if (message.signerCert.publicKey.equals(csr.publicKey)) return true;
    const signer = this.renewalSigner(message);
    const ca = signer && this.deps.cas.issuerOf(signer);
    return !!ca && signer.verify(ca.cert.publicKey);
  }

  private reply(to: ReplyTo, answer: CertRepStatus): Promise<Buffer> {
    return buildCertRep(to, answer, { cert: this.deps.ra.cert, signer: this.deps.ra.signer });
  }

  private async handle(profile: ScepProfile, message: PkiMessage, content: RequestContent): Promise<CertRepStatus> {
    switch (content.type) {
      case 'PKCSReq':
      case 'RenewalReq':
        return this.enroll(profile, message, content.csr);
      case 'CertPoll': {
        const t = await this.deps.transactions.latest(profile.name, message.transactionId);
        return t ? this.answerFor(t) : fail('badCertId');
      }
      case 'GetCert': {
        const cert = await this.deps.certificates.get(content.serial);
        // A certificate uploaded for a person was issued by another CA: not ours to hand out under our CA's serial.
        return cert && !cert.unmanaged ? { status: 'SUCCESS', certificates: [new X509Certificate(cert.pem).raw] } : fail('badCertId');
      }
      case 'GetCRL': {
        const ca = this.deps.templateCa(profile.template);
        return { status: 'SUCCESS', certificates: [], crls: [await this.deps.crls.current(ca.name)] };
      }
    }
  }

  private async answerFor(t: ScepTransaction): Promise<CertRepStatus> {
    if (t.status === 'pending') return { status: 'PENDING' };
    if (t.status === 'rejected' || !t.serial) return fail((t.failInfo as FailInfo | null) ?? 'badRequest');
    const cert = await this.deps.certificates.get(t.serial);
    if (!cert) return fail('badCertId');
    return { status: 'SUCCESS', certificates: [new X509Certificate(cert.pem).raw] };
  }

  private async enroll(profile: ScepProfile, message: PkiMessage, csr: ParsedCsr): Promise<CertRepStatus> {
    const keySha256 = createHash('sha256').update(csr.publicKeyInfo).digest('hex');
    // A renewal is its own request even when it reuses the first enrollment's transactionID.
    const renewing = this.renewalSigner(message);
    const renews = renewing ? normalizeSerialHex(renewing.serialNumber) : '';
    const known = await this.deps.transactions.find(profile.name, message.transactionId, renews);
    if (known) return known.keySha256 === keySha256 ? this.answerFor(known) : fail('badRequest');

    const log = scoped(this.deps.log, { profile: profile.name, transactionId: message.transactionId, subject: csr.subjectDn });
    const ctx: ChallengeContext = { profile: profile.name, challenge: csr.challengePassword, csr, transactionId: message.transactionId };
    const base: RequestRecord = {
      profile: profile.name,
      transactionId: message.transactionId,
      renews,
      keySha256,
      messageType: message.type,
      subject: csr.subjectDn,
    };
    const verdict = await this.authorise(profile, renewing, ctx);
    if (!verdict.ok) {
      log.info({ reason: verdict.reason }, 'SCEP enrollment refused');
      await this.deps.transactions.insert(this.deps.db, { ...base, status: 'rejected', failInfo: 'badRequest', reason: verdict.reason });
      return fail('badRequest');
    }
    // Names are decided once the request is authenticated, so every refusal for a name is one an enrollee earned and is audited.
    const names = this.namesFor(profile, csr, verdict.binding);
    if (!names.ok) {
      log.info({ reason: names.reason }, 'SCEP enrollment refused: names');
      await this.deps.db.transaction(async (trx) => {
        await this.deps.transactions.insert(trx, { ...base, status: 'rejected', failInfo: 'badRequest', reason: names.reason });
        await this.deps.audit.append(trx, refusalAudit(base, names.reason));
      });
      await this.tell(log, 'failed', () => profile.validator.failed?.(ctx, names.reason));
      return fail('badRequest');
    }
    if (profile.approval) {
      await this.deps.transactions.insert(this.deps.db, {
        ...base,
        status: 'pending',
        csr: withoutChallengePassword(csr.der).toString('base64'),
        ...this.sealed(profile, base, csr),
      });
      log.info('SCEP enrollment waits for approval');
      return { status: 'PENDING' };
    }
    // The transaction row commits with the certificate, so a crash cannot leave one without the other.
    const record = async (sql: Sql, serial: string) => {
      if (!(await this.deps.transactions.insert(sql, { ...base, status: 'issued', serial }))) throw new RequestTaken();
    };
    let answer: Outcome;
    try {
      answer = await this.issue(profile, ctx, names.names, base, log, `scep:${profile.name}`, record);
    } catch (err) {
      if (!(err instanceof RequestTaken)) throw err;
      // Another gateway instance answered the same request first: its answer is the answer.
      const taken = await this.deps.transactions.find(profile.name, message.transactionId, renews);
      return taken ? this.answerFor(taken) : fail('badRequest');
    }
    if (answer.status.status !== 'SUCCESS') await this.deps.transactions.insert(this.deps.db, transactionOf(base, answer));
    return answer.status;
  }

  /** The names to certify: the profile's policy applied to the request and its challenge's binding (src/pki/name-policy.ts). */
  private namesFor(profile: ScepProfile, csr: ParsedCsr, binding: NameBinding | undefined): NameDecision {
    const checked = decideNames(profile.names, csr, binding);
    if (!checked.ok || profile.names.source !== 'template') return checked;
    try {
      return { ok: true, names: this.deps.renderNames(profile.template, { challenge: binding?.attributes ?? {} }) };
    } catch (err) {
      if (err instanceof TemplateError) return { ok: false, reason: err.message };
      throw err;
    }
  }

  /**
   * The request as received, sealed under the master key, for validators
   * that report the decision back with it (an MDM's): kept only while the
   * request waits, never in clear.
   */
  private sealed(profile: ScepProfile, base: RequestRecord, csr: ParsedCsr): { csrSealed?: string; kekId?: string } {
    if (!profile.validator.issued && !profile.validator.failed) return {};
    const master = this.deps.master;
    return { csrSealed: sealBytes(master, csr.der, pendingContext(base)), kekId: master.id };
  }

  /** Whether the request may enroll: a renewal signed by a certificate of ours, or the profile's challenge. */
  private async authorise(profile: ScepProfile, renewing: X509Certificate | undefined, ctx: ChallengeContext): Promise<ChallengeVerdict> {
    // A validator that decides renewals too sees every request, signed by a certificate of ours or not.
    if (renewing && profile.renewal && !profile.validator.decidesRenewals) {
      const refusal = await this.renewalRefusal(renewing, profile, ctx.csr);
      if (!refusal) return { ok: true };
      if (ctx.challenge === undefined) return { ok: false, reason: refusal };
    }
    return profile.validator.validate(ctx);
  }

  /** The certificate a RenewalReq is signed with; a self-signed one makes it a first enrollment in all but name. */
  private renewalSigner(message: PkiMessage): X509Certificate | undefined {
    const cert = message.type === 'RenewalReq' ? message.signerCert.x509() : undefined;
    return cert && !cert.checkIssued(cert) ? cert : undefined;
  }

  /**
   * A renewal must be signed by a certificate of ours that is valid now, not
   * revoked, issued from this profile's template, and it may not change who
   * the certificate names: holding any key of ours must not buy a
   * certificate for another subject.
   */
  private async renewalRefusal(signer: X509Certificate, profile: ScepProfile, csr: ParsedCsr): Promise<string | undefined> {
    const ca = this.deps.cas.issuerOf(signer);
    if (!ca || !signer.verify(ca.cert.publicKey)) return 'the renewal is not signed by a certificate this gateway issued';
    const now = Date.now();
    if (new Date(signer.validFrom).getTime() > now || new Date(signer.validTo).getTime() < now) return 'the certificate signing the renewal has expired';
    const record = await this.deps.certificates.get(normalizeSerialHex(signer.serialNumber));
    if (record?.status !== 'valid') return 'the certificate signing the renewal is revoked or unknown';
    if (record.template !== profile.template)
      return `the certificate signing the renewal was issued from template ${record.template}, not this profile's ${profile.template}`;
    if (profile.names.source !== 'template') {
      // Names with attribute types OpenSSL has no short name for are recorded as OpenSSL prints them; such renewals need a challenge.
      if ((formatName(csr.subject) ?? csr.subjectDn) !== record.subject)
        return `a renewal keeps the subject of the certificate it renews (${record.subject}), not ${csr.subjectDn}`;
      if (sanKey(csr.subjectAltNames) !== sanKey(record.sans)) return 'a renewal keeps the subjectAltNames of the certificate it renews';
    }
    return undefined;
  }

  /** Issues for a validated (or approved) request; the caller records the outcome. */
  private async issue(
    profile: ScepProfile,
    ctx: ChallengeContext,
    names: RequestedNames,
    base: RequestRecord,
    log: ScopedLog,
    actor: string,
    record?: (sql: Sql, serial: string) => Promise<void>,
  ): Promise<Outcome> {
    try {
      const issued = await this.deps.issuer.issue({
        template: profile.template,
        csr: ctx.csr, // parsed and its signature verified already
        ...(record && { within: (sql: Sql, issued: { record: { serial: string } }) => record(sql, issued.record.serial) }),
        data: {},
        names,
        actor,
        reason: `SCEP ${base.messageType} ${base.transactionId}`,
      });
      log.info({ serial: issued.record.serial }, 'SCEP certificate issued');
      const { serial, notAfter } = issued.record;
      await this.tell(log, 'issued', () =>
        profile.validator.issued?.(ctx, { serial, notAfter, der: issued.der, ca: issued.ca.name, issuer: oneLineName(issued.ca.cert.subject) }),
      );
      return { status: { status: 'SUCCESS', certificates: [issued.der] }, serial };
    } catch (err) {
      // Another instance answering the same request is not a failure to issue.
      if (err instanceof RequestTaken) throw err;
      await this.tell(log, 'failed', () =>
        profile.validator.failed?.(ctx, err instanceof IssuanceError ? err.message : 'the gateway could not issue the certificate'),
      );
      if (!(err instanceof IssuanceError)) throw err;
      log.info({ reason: err.message }, 'SCEP enrollment refused by policy');
      return { status: fail('badRequest'), reason: err.message };
    }
  }

  /** Tells the validator an outcome; its failure is logged, never the request's (the certificate stands). */
  private async tell(log: ScopedLog, what: 'issued' | 'failed', notify: () => Promise<void> | undefined): Promise<void> {
    try {
      await notify();
    } catch (err) {
      log.warn({ error: err instanceof Error ? err.message : String(err) }, `the challenge validator could not be told the request ${what}`);
    }
  }

  /** Pending requests (profiles with approval), newest first. */
  pending(profile?: string): Promise<ScepTransaction[]> {
    return this.deps.transactions.list({ status: 'pending', ...(profile && { profile }) });
  }

  /**
   * An operator's decision on a pending request. Approval issues now; the
   * client's next CertPoll (or resend) collects the certificate.
   */
  async decide(id: number, decision: { approve: boolean; actor: string; reason?: string }): Promise<ScepTransaction> {
    const t = await this.deps.transactions.get(id);
    if (!t) throw new ScepDecisionError('not_found', `no SCEP transaction ${id}`);
    return this.locks.run(`${t.profile}\n${t.transactionId}`, async () => {
      const current = await this.deps.transactions.get(id);
      const profile = current && this.profile(current.profile);
      if (current?.status !== 'pending' || !current.csr || !profile)
        throw new ScepDecisionError('conflict', `SCEP transaction ${id} is ${current?.status ?? 'gone'}, not pending`);
      const log = scoped(this.deps.log, { profile: profile.name, transactionId: current.transactionId, subject: current.subject, actor: decision.actor });
      // Kept without its challengePassword; the request as received only where a validator reports back with it.
      const stored = parseCsr(Buffer.from(current.csr, 'base64'));
      const csr = current.csrSealed ? parseCsr(openBytes(this.deps.master, current.kekId ?? '', current.csrSealed, pendingContext(current))) : stored;
      const ctx: ChallengeContext = { profile: profile.name, challenge: undefined, csr, transactionId: current.transactionId };
      let outcome: Outcome;
      if (decision.approve) {
        // Decided again under today's policy: it may have changed while the request waited.
        const names = this.namesFor(profile, stored, undefined);
        outcome = names.ok ? await this.issue(profile, ctx, names.names, current, log, decision.actor) : { status: fail('badRequest'), reason: names.reason };
      } else {
        outcome = { status: fail('badRequest'), reason: decision.reason ?? 'rejected by an operator' };
        log.info({ reason: outcome.reason }, 'SCEP request rejected');
      }
      const settled = transactionOf(current, outcome);
      await this.deps.db.transaction(async (trx) => {
        if (!(await this.deps.transactions.decide(trx, id, { ...settled, decidedBy: decision.actor })))
          throw new ScepDecisionError('conflict', `SCEP transaction ${id} is no longer pending`);
        await this.deps.audit.append(trx, {
          actor: decision.actor,
          action: decision.approve ? 'scep.approve' : 'scep.reject',
          subjectType: 'scep_transaction',
          subjectId: String(id),
          reason: decision.reason ?? null,
          detail: {
            profile: current.profile,
            transactionId: current.transactionId,
            subject: current.subject,
            status: settled.status,
            ...(outcome.serial && { serial: outcome.serial }),
          },
        });
      });
      if (outcome.status.status !== 'SUCCESS' && (!decision.approve || outcome.reason))
        await this.tell(log, 'failed', () => profile.validator.failed?.(ctx, outcome.reason!));
      return (await this.deps.transactions.get(id))!;
    });
  }
}

/** What identifies a request and is recorded with its outcome. */
type RequestRecord = Pick<ScepTransaction, 'profile' | 'transactionId' | 'renews' | 'keySha256' | 'messageType' | 'subject'>;

interface Outcome {
  status: CertRepStatus;
  serial?: string;
  reason?: string;
}

/** The same request was recorded by someone else while this one was issuing. */
class RequestTaken extends Error {}

/** A request that an operator cannot decide: unknown, or no longer pending. */
export class ScepDecisionError extends Refusal {
  constructor(kind: 'not_found' | 'conflict', message: string) {
    super(kind, message);
  }
}

function transactionOf(base: RequestRecord, outcome: Outcome) {
  const { profile, transactionId, renews, keySha256, messageType, subject } = base;
  const common = { profile, transactionId, renews, keySha256, messageType, subject };
  if (outcome.status.status === 'SUCCESS') return { ...common, status: 'issued' as const, serial: outcome.serial! };
  const failInfo = outcome.status.status === 'FAILURE' ? outcome.status.failInfo : 'badRequest';
  return { ...common, status: 'rejected' as const, failInfo, reason: outcome.reason ?? null };
}

const fail = (failInfo: FailInfo): CertRepStatus => ({ status: 'FAILURE', failInfo });

/** The audit row of a request refused for the names it asked for. */
function refusalAudit(base: RequestRecord, reason: string) {
  return {
    actor: `scep:${base.profile}`,
    action: 'scep.refuse',
    subjectType: 'scep_transaction',
    subjectId: base.transactionId.slice(0, 191),
    reason,
    detail: { profile: base.profile, transactionId: base.transactionId, subject: base.subject, messageType: base.messageType },
  };
}

/** subjectAltNames in a comparable form: order does not matter, type and value do. */
const sanKey = (sans: readonly { type: string; value: string }[]): string => JSON.stringify(sans.map((n) => `${n.type}:${n.value}`).sort());

/** X509Certificate#subject's one attribute per line as "CN=…, O=…". */
const oneLineName = (subject: string): string => subject.split('\n').join(', ');
