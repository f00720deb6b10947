/**
 * Who may enroll: every SCEP profile has one ChallengeValidator. Static
 * challenges come from YAML (MDM-driven enrollment such as MobileIron Core);
 * dynamic ones are single-use, expire, may be bound to subject attributes,
 * and are stored only as HMACs. A connector that decides its MDM's
 * challenges (ConnectorModule.scepChallenges) implements the same
 * interface, with the issued/failed notifications.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { ParsedCsr } from '../../pki/csr.js';
import type { NameBinding } from '../../pki/name-policy.js';
import type { ScepChallengeRepository } from '../../store/scep.js';

export interface ChallengeContext {
  profile: string;
  /** challengePassword from the request, if it had one. */
  challenge: string | undefined;
  csr: ParsedCsr;
  transactionId: string;
}

/** A pass may come with the names its challenge was bound to (src/pki/name-policy.ts checks the request against them). */
export type ChallengeVerdict = { ok: true; binding?: NameBinding } | { ok: false; reason: string };

/** The certificate issued for a request a validator let through. */
export interface IssuedForRequest {
  /** Lower-case hex. */
  serial: string;
  der: Buffer;
  notAfter: number;
  /** The issuing CA's name in this gateway's configuration. */
  ca: string;
  /** The issuing CA's subject, as OpenSSL prints it on one line. */
  issuer: string;
}

export interface ChallengeValidator {
  /**
   * Renewals are the validator's to decide too: a RenewalReq signed by a
   * certificate of ours is not let through on that alone (an MDM that
   * checks the names it expects on every request).
   */
  readonly decidesRenewals?: boolean;
  validate(ctx: ChallengeContext): Promise<ChallengeVerdict>;
  /** Told once a certificate was issued for a validated request (after it was recorded). */
  issued?(ctx: ChallengeContext, certificate: IssuedForRequest): Promise<void>;
  /** Told when a validated request was not issued after all (policy refused it, an operator rejected it). */
  failed?(ctx: ChallengeContext, reason: string): Promise<void>;
}

/** HMAC both sides so the comparison takes the same time whatever the lengths. */
const macKey = randomBytes(32);
const mac = (s: string): Buffer => createHmac('sha256', macKey).update(s).digest();

export class StaticChallenge implements ChallengeValidator {
  private readonly expected: Buffer;

  constructor(secret: string) {
    this.expected = mac(secret);
  }

  async validate({ challenge }: ChallengeContext): Promise<ChallengeVerdict> {
    if (challenge === undefined) return { ok: false, reason: 'the request has no challenge password' };
    return timingSafeEqual(mac(challenge), this.expected) ? { ok: true } : { ok: false, reason: 'wrong challenge password' };
  }
}

/** No challenge at all: only for profiles behind another gate (e.g. approval). */
export class NoChallenge implements ChallengeValidator {
  async validate(): Promise<ChallengeVerdict> {
    return { ok: true };
  }
}

export interface NewChallenge {
  profile: string;
  ttlMs: number;
  /** Subject attributes (e.g. { serialNumber: 'C02X…' }) the request must carry, each exactly once with exactly this value. */
  binding?: Record<string, string>;
  /** The bound attributes are the whole subject: no other attribute, no subjectAltName. */
  exact?: boolean;
  createdBy: string;
}

export class DynamicChallenges implements ChallengeValidator {
  constructor(
    private readonly repo: ScepChallengeRepository,
    /** Secret for the stored HMACs (derived from the master key). */
    private readonly key: Buffer,
  ) {}

  private digest(challenge: string): string {
    return createHmac('sha256', this.key).update(challenge).digest('hex');
  }

  /** A new challenge; the caller hands it out once, only its HMAC is kept. */
  async create(c: NewChallenge, trx?: Knex.Transaction): Promise<{ challenge: string; expiresAt: number }> {
    const challenge = randomBytes(16).toString('hex');
    const expiresAt = Date.now() + c.ttlMs;
    await this.repo.add(
      { profile: c.profile, digest: this.digest(challenge), binding: c.binding ?? null, exact: c.exact ?? false, createdBy: c.createdBy, expiresAt },
      undefined,
      trx,
    );
    return { challenge, expiresAt };
  }

  /**
   * A new challenge in place of the unused ones its creator made for the
   * profile (an OTA device starting again), in the caller's transaction:
   * from its commit on, only the new one works.
   */
  async reissue(trx: Knex.Transaction, c: NewChallenge): Promise<{ challenge: string; expiresAt: number }> {
    await this.repo.retire(trx, c.profile, c.createdBy);
    return this.create(c, trx);
  }

  async validate({ profile, challenge }: ChallengeContext): Promise<ChallengeVerdict> {
    if (challenge === undefined) return { ok: false, reason: 'the request has no challenge password' };
    // Looked up by HMAC: the database index does the comparison, never on the secret itself.
    const row = await this.repo.consume(profile, this.digest(challenge));
    if (!row) return { ok: false, reason: 'unknown, expired or already used challenge password' };
    return row.binding || row.exact ? { ok: true, binding: { attributes: row.binding ?? {}, exact: row.exact } } : { ok: true };
  }
}
