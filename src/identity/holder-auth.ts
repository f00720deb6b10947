/**
 * How a phone proves it holds a collected mobile ID, in the manner of
 * private_key_jwt (RFC 7523 section 2.2; OpenID Connect Core section 9): for
 * each request it signs a short JWT with the private key of a certificate
 * issued for that mobile ID. The certificate alone, which is public, proves
 * nothing; a proof works once (its jti is kept until it expires,
 * holder_proofs), for one endpoint (aud), for at most five minutes.
 *
 * Header: {"alg": "RS256" | "ES256" | "ES384", "typ": "credgate-holder-proof+jwt", "kid": "<certificate serial, hex>"}
 * Claims: {"iss": "<mobile ID>", "sub": "<mobile ID>", "aud": "<the endpoint's URL>", "iat", "exp", "jti"}
 *
 * Until the signature is checked every refusal is the same 401, so a caller
 * without the key learns nothing about the mobile ID or the certificate.
 * Past it, the holder is told why (expired, replayed, the mobile ID
 * disabled or cancelled, the certificate revoked).
 */
import { createPublicKey } from 'node:crypto';
import { JwsError, jwtClaims, parseCompactJws, verifyJws, type ParsedJws } from '../pki/jws.js';
import { CLOCK_SKEW_S } from '../pki/content-signing.js';
import { normalizeSerialHex } from '../pki/x509-der.js';
import type { CertificateRepository } from '../store/certificates.js';
import type { HolderProofRepository } from '../store/holder-proofs.js';
import type { MobileId, MobileIdRepository } from '../store/mobile-ids.js';
import type { Person, PersonRepository } from '../store/people.js';
import { IdentityError } from './errors.js';
import type { MobileProfile } from './profiles.js';

export const PROOF_TYP = 'credgate-holder-proof+jwt';
/** The longest a proof may live (exp - iat), and how far ahead exp may be. */
export const MAX_PROOF_LIFETIME_S = 300;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SERIAL = /^[0-9A-Fa-f]{1,64}$/;
const JTI = /^[\x21-\x7e]{16,128}$/;
const MAX_PROOF_CHARS = 8192;

export interface Holder {
  mobileId: MobileId;
  person: Person;
  /** The certificate whose key signed the proof. */
  serial: string;
}

const refused = () =>
  new IdentityError(
    'unauthorized',
    `the holder proof is not valid: sign a new one (typ ${PROOF_TYP}) with the key of a certificate issued for your mobile ID, its serial as kid, the mobile ID as iss and sub, and this endpoint's URL as aud`,
  );

export class HolderAuthenticator {
  constructor(
    private readonly deps: {
      mobileIds: MobileIdRepository;
      certificates: CertificateRepository;
      people: PersonRepository;
      proofs: HolderProofRepository;
      profiles: Record<string, MobileProfile>;
      now?: () => number;
    },
  ) {}

  /** The holder a proof for `audience` (the endpoint's URL) speaks for; an IdentityError otherwise. */
  async authenticate(proof: unknown, audience: string): Promise<Holder> {
    if (typeof proof !== 'string' || proof.length === 0 || proof.length > MAX_PROOF_CHARS)
      throw new IdentityError('unauthorized', `send the holder proof, a compact JWS of at most ${MAX_PROOF_CHARS} characters, as "proof"`);
    let jws: ParsedJws;
    let claims: Record<string, unknown>;
    try {
      jws = parseCompactJws(proof);
      claims = jwtClaims(jws);
    } catch (err) {
      if (err instanceof JwsError) throw new IdentityError('unauthorized', `the holder proof is not a JWT: ${err.message}`);
      throw err;
    }
    const { kid, typ } = jws.header;
    const { iss, sub } = claims;
    if (typ !== PROOF_TYP) throw new IdentityError('unauthorized', `the holder proof must have typ ${PROOF_TYP}`);
    if (typeof kid !== 'string' || !SERIAL.test(kid) || typeof iss !== 'string' || !UUID.test(iss) || sub !== iss) throw refused();

    const m = await this.deps.mobileIds.get(iss);
    const cert = await this.deps.certificates.get(normalizeSerialHex(kid));
    const serial = cert?.serial;
    if (!m || !cert || !serial || !m.serials.includes(serial)) throw refused();
    try {
      verifyJws(jws, createPublicKey(cert.pem));
    } catch (err) {
      if (err instanceof JwsError) throw refused();
      throw err;
    }

    // The holder of the key from here on: told what is wrong.
    const now = (this.deps.now ?? Date.now)();
    const s = now / 1000;
    const { aud, iat, exp, jti } = claims;
    if (!(aud === audience || (Array.isArray(aud) && aud.length === 1 && aud[0] === audience)))
      throw new IdentityError('unauthorized', `the holder proof is for ${JSON.stringify(aud)}, not this endpoint (${audience})`);
    if (typeof iat !== 'number' || typeof exp !== 'number') throw new IdentityError('unauthorized', 'the holder proof needs iat and exp (seconds since 1970)');
    if (exp <= s - CLOCK_SKEW_S) throw new IdentityError('unauthorized', 'the holder proof has expired; sign a new one for each request');
    if (iat > s + CLOCK_SKEW_S) throw new IdentityError('unauthorized', "the holder proof's iat is in the future; check the phone's clock");
    if (exp - iat > MAX_PROOF_LIFETIME_S || exp > s + MAX_PROOF_LIFETIME_S + CLOCK_SKEW_S)
      throw new IdentityError('unauthorized', `a holder proof may live at most ${MAX_PROOF_LIFETIME_S} seconds (exp - iat)`);
    if (typeof jti !== 'string' || !JTI.test(jti))
      throw new IdentityError('unauthorized', 'the holder proof needs a jti of 16 to 128 printable characters, new for each proof');

    if (m.status !== 'issued') throw new IdentityError('forbidden', `this mobile ID is ${m.status}; it cannot vouch for its holder`);
    if (cert.status !== 'valid') throw new IdentityError('forbidden', `certificate ${serial} is ${cert.status === 'hold' ? 'suspended' : 'revoked'}`);
    if (cert.notBefore > now || cert.notAfter <= now) throw new IdentityError('forbidden', `certificate ${serial} is not within its validity`);
    // Encryption keys decrypt mail; proving who one is is for authentication and signing keys.
    const slot = this.deps.profiles[m.credentialProfile]?.certificates.find((c) => c.template === cert.template);
    if (slot?.purpose === 'encryption')
      throw new IdentityError(
        'forbidden',
        `certificate ${serial} is an encryption certificate; sign the proof with the mobile ID's authentication or signing key`,
      );
    const person = await this.deps.people.get(m.userId);
    if (!person) throw new IdentityError('forbidden', 'the holder of this mobile ID is no longer in the directory');

    // Last, so a refused proof is not used up; the primary key makes two racing uses of one proof end with one success.
    if (!(await this.deps.proofs.spend(m.id, jti, (exp + CLOCK_SKEW_S) * 1000)))
      throw new IdentityError('unauthorized', 'this holder proof was already used; sign a new one (a new jti) for each request');
    return { mobileId: m, person, serial };
  }
}
