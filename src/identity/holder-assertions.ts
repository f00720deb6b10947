/**
 * Phone-to-phone verification. A badge shows a QR code holding a holder
 * assertion: a JWT signed with the content-signing key, naming the mobile
 * ID (sub) and its holder (name, preferred_username), valid for minutes
 * (mobile.assertions.ttl). The holder's app gets a fresh one with a holder
 * proof (holder-auth.ts). A second phone checks it offline against the
 * signer set, or asks here whether the mobile ID is still valid and who
 * holds it; what it sees of the holder is limited by its operator scope,
 * and a holder out of its scope is answered exactly as an unknown one.
 */
import type { Logger } from 'pino';
import { qrPng, qrSvg } from '../notify/qr.js';
import { type ContentSigning, SignedTokenError } from '../pki/content-signing.js';
import type { AuditRepository } from '../store/audit.js';
import type { Db } from '../store/db.js';
import type { MobileIdRepository } from '../store/mobile-ids.js';
import type { Person, PersonRepository } from '../store/people.js';
import type { HolderAuthenticator } from './holder-auth.js';
import type { Viewer } from './scope.js';

/** The typ of a holder assertion: no other JWS the gateway signs has it. */
export const ASSERTION_TYP = 'credgate-holder+jwt';
/** Its audience: whoever verifies a badge, never a gateway endpoint. */
export const ASSERTION_AUD = 'credgate-holder-verification';

/** Operator scope (all people, own groups, self): whether `viewer` may see `person`. */
export interface ScopeCheck {
  canSee(viewer: Viewer, person: Person): Promise<boolean>;
}

export interface IssuedAssertion {
  assertion: string;
  mobileId: string;
  issuedAt: string;
  expiresAt: string;
  qr: { png: string; svg: string };
}

export type Verification =
  | {
      valid: true;
      mobileId: string;
      status: 'issued';
      holder: { userName: string; displayName: string; groups: string[] };
      credentialProfile: string;
      expiresAt: string;
    }
  | {
      valid: false;
      /** What an offline verifier could also tell, or: unknown (no mobile ID this verifier may know of), not_active (in scope, but not issued). */
      reason: SignedTokenError['reason'] | 'unknown' | 'not_active';
      message: string;
      mobileId?: string;
      status?: string;
      holder?: { userName: string; displayName: string; groups: string[] };
    };

const UNKNOWN: Verification = { valid: false, reason: 'unknown', message: 'this gateway cannot vouch for the holder of this assertion' };
const MAX_ASSERTION_CHARS = 8192;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class HolderAssertions {
  constructor(
    private readonly deps: {
      db: Db;
      auth: HolderAuthenticator;
      signing: ContentSigning;
      mobileIds: MobileIdRepository;
      people: PersonRepository;
      audit: AuditRepository;
      scope: ScopeCheck;
      /** How long an assertion is valid. */
      ttlMs: number;
      /** The gateway's base URL: the assertions' iss, and what holder proofs name in aud. */
      baseUrl: () => string;
      log: Logger;
    },
  ) {}

  /** The aud a holder proof for this path of /mobile/v1 names. */
  audience(path: '/assertions' | '/assertions/verify'): string {
    return `${this.deps.baseUrl()}/mobile/v1${path}`;
  }

  /** A fresh assertion, with its QR code, for the holder a proof speaks for. */
  async issue(proof: unknown): Promise<IssuedAssertion> {
    const { mobileId: m, person, serial } = await this.deps.auth.authenticate(proof, this.audience('/assertions'));
    const { token, jti, iat, exp } = await this.deps.signing.signToken(
      ASSERTION_TYP,
      { iss: this.deps.baseUrl(), aud: ASSERTION_AUD, sub: m.id, name: person.displayName, preferred_username: person.userName },
      this.deps.ttlMs,
    );
    await this.deps.audit.append(this.deps.db, {
      actor: `mobile-id:${m.id}`,
      action: 'mobile-id.assertion',
      subjectType: 'mobile-id',
      subjectId: m.id,
      detail: { jti, serial, expiresAt: new Date(exp * 1000).toISOString() },
    });
    const [png, svg] = await Promise.all([qrPng(token), qrSvg(token)]);
    return {
      assertion: token,
      mobileId: m.id,
      issuedAt: new Date(iat * 1000).toISOString(),
      expiresAt: new Date(exp * 1000).toISOString(),
      qr: { png: png.toString('base64'), svg },
    };
  }

  /** Online verification by another mobile ID's holder (a guard's phone), authenticated by its own proof. */
  async verifyAsHolder(proof: unknown, assertion: unknown): Promise<Verification> {
    const { mobileId: m, person } = await this.deps.auth.authenticate(proof, this.audience('/assertions/verify'));
    return this.verify({ actor: `mobile-id:${m.id}`, name: person.userName, roles: person.roles }, assertion);
  }

  /** Online verification by an admin API caller: its credential's roles and those of the person named like it. */
  async verifyAsCaller(caller: Viewer, assertion: unknown): Promise<Verification> {
    const person = await this.deps.people.byUserName(caller.name);
    return this.verify({ ...caller, roles: [...new Set([...caller.roles, ...(person?.roles ?? [])])] }, assertion);
  }

  /** Online verification by a viewer already authenticated, with all its roles. */
  async verify(viewer: Viewer, assertion: unknown): Promise<Verification> {
    const { answer, subject } = await this.check(viewer, assertion);
    // The trail names the mobile ID asked about even when the answer does not.
    await this.deps.audit.append(this.deps.db, {
      actor: viewer.actor,
      action: 'mobile-id.verify',
      subjectType: 'mobile-id',
      subjectId: subject ?? '-',
      detail: { valid: answer.valid, ...(!answer.valid && { reason: answer.reason }) },
    });
    return answer;
  }

  private async check(viewer: Viewer, assertion: unknown): Promise<{ answer: Verification; subject?: string }> {
    if (typeof assertion !== 'string' || assertion.length > MAX_ASSERTION_CHARS)
      return { answer: { valid: false, reason: 'malformed', message: `the assertion must be a compact JWS of at most ${MAX_ASSERTION_CHARS} characters` } };
    let claims: Record<string, unknown>;
    try {
      claims = this.deps.signing.verifyToken(assertion, { typ: ASSERTION_TYP, aud: ASSERTION_AUD });
    } catch (err) {
      if (err instanceof SignedTokenError) return { answer: { valid: false, reason: err.reason, message: err.message } };
      throw err;
    }
    const subject = typeof claims.sub === 'string' && UUID.test(claims.sub) ? claims.sub : undefined;
    const m = subject ? await this.deps.mobileIds.get(subject) : undefined;
    const person = m && (await this.deps.people.get(m.userId));
    // Unknown and out of scope alike: the same answer, with nothing of the holder.
    if (!m || !person || !(await this.deps.scope.canSee(viewer, person))) return { answer: UNKNOWN, ...(subject && { subject }) };
    const holder = { userName: person.userName, displayName: person.displayName, groups: person.groups };
    if (m.status !== 'issued')
      return {
        answer: { valid: false, reason: 'not_active', message: `this mobile ID is ${m.status}`, mobileId: m.id, status: m.status, holder },
        subject: m.id,
      };
    return {
      answer: {
        valid: true,
        mobileId: m.id,
        status: 'issued',
        holder,
        credentialProfile: m.credentialProfile,
        expiresAt: new Date((claims.exp as number) * 1000).toISOString(),
      },
      subject: m.id,
    };
  }
}
