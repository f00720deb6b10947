/**
 * Delivery as imported PKCS certificates (Graph beta userPfxCertificates):
 * every credential of the set, the user's older encryption credentials
 * included, because Intune pushes all of a user's imported encryption
 * certificates to each of the user's devices so old mail stays readable.
 *
 * The PKCS#12 password travels encrypted to the on-premises Intune
 * certificate connector's key (RSA-OAEP SHA-512); only that connector can
 * open the blob. An import that already exists counts as delivered, so a
 * retried delivery imports nothing twice.
 */
import { createHash, publicEncrypt, X509Certificate, type KeyObject } from 'node:crypto';
import { DeliveryError, type CredentialSet, type DeliveredCredential, type DeliveryReceipt, type MdmUser, type WithdrawnCredential } from '../../src/connectors/connector.js';
import { FIELD, textProblem } from '../../src/connectors/field-text.js';
import { failure, GraphError, TransportError, type Graph } from './graph.js';
import { OAEP_SHA512, type IntuneSettings } from './schema.js';

const COLLECTION = '/beta/deviceManagement/userPfxCertificates';
const NO_USER = 'Intune imports certificates per user and this set names no user id';
const noUpn = (userId: string) => `user ${userId} has no userPrincipalName in Entra ID`;

export interface PfxImportBody {
  thumbprint: string;
  intendedPurpose: string;
  userPrincipalName: string;
  startDateTime: string;
  expirationDateTime: string;
  providerName: string;
  keyName: string;
  paddingScheme: 'oaepSha512';
  encryptedPfxBlob: string;
  encryptedPfxPassword: string;
}

/** Lower-case hex SHA-1 of the certificate's DER, as Intune names imports. */
export const thumbprint = (der: Buffer): string => createHash('sha1').update(der).digest('hex');

/** The password, ASCII, RSA-OAEP (SHA-512, MGF1-SHA-512, empty label) under the connector key, base64. */
export function encryptPassword(password: string, connectorKey: KeyObject): string {
  return publicEncrypt({ key: connectorKey, ...OAEP_SHA512 }, Buffer.from(password, 'ascii')).toString('base64');
}

export function importBody(c: DeliveredCredential, upn: string, intendedPurpose: string, settings: IntuneSettings['pfxImport'], connectorKey: KeyObject): PfxImportBody {
  const cert = new X509Certificate(c.certificate);
  return {
    thumbprint: thumbprint(c.certificate),
    intendedPurpose,
    userPrincipalName: upn,
    startDateTime: new Date(cert.validFrom).toISOString(),
    expirationDateTime: new Date(cert.validTo).toISOString(),
    providerName: settings.providerName,
    keyName: settings.keyName,
    paddingScheme: 'oaepSha512',
    encryptedPfxBlob: c.pkcs12.toString('base64'),
    encryptedPfxPassword: encryptPassword(c.password, connectorKey),
  };
}

/** An OData string literal: single quotes doubled. */
const odata = (s: string) => `'${s.replace(/'/g, "''")}'`;

export class PfxImporter {
  constructor(
    private readonly deps: {
      connectorId: string;
      graph: Graph;
      settings: IntuneSettings['pfxImport'];
      connectorKey: KeyObject;
      lookupUser(userId: string): Promise<MdmUser>;
    },
  ) {}

  /**
   * Why Intune could not take imports for this user: they are filed under
   * the user's id and userPrincipalName, looked up in Entra ID when the
   * listing gave none. A failed lookup is thrown (tried again later).
   */
  async undeliverable(user: MdmUser): Promise<string | undefined> {
    if (!user.id) return NO_USER;
    if (user.upn) return undefined;
    const upn = (await this.deps.lookupUser(user.id)).upn;
    if (!upn) return noUpn(user.id);
    const problem = textProblem(upn, FIELD.upn);
    return problem && `Entra ID's ${problem}`;
  }

  async deliver(set: CredentialSet): Promise<DeliveryReceipt> {
    const userId = set.user.id;
    if (!userId) throw new DeliveryError(NO_USER, true);
    try {
      const upn = set.user.upn ?? (await this.deps.lookupUser(userId)).upn;
      if (!upn) throw new DeliveryError(noUpn(userId), true);
      const imported: string[] = [];
      for (const c of set.credentials) {
        const purpose = this.deps.settings.intendedPurpose[c.purpose as 'signing' | 'encryption'];
        if (!purpose) throw new DeliveryError(`no Intune intended purpose for ${c.purpose} credentials`, true);
        const body = importBody(c, upn, purpose, this.deps.settings, this.deps.connectorKey);
        await this.importOnce(body);
        imported.push(`${userId}-${body.thumbprint}`);
      }
      return { connectorId: this.deps.connectorId, reference: imported.join(','), deliveredAt: new Date() };
    } catch (err) {
      throw asDeliveryError(err);
    }
  }

  private async importOnce(body: PfxImportBody): Promise<void> {
    const filter = `tolower(userPrincipalName) eq ${odata(body.userPrincipalName.toLowerCase())} and tolower(thumbprint) eq ${odata(body.thumbprint)}`;
    const existing = await this.deps.graph.get(`${COLLECTION}?$filter=${encodeURIComponent(filter)}`);
    if (Array.isArray(existing.value) && existing.value.length > 0) return;
    const res = await this.deps.graph.request('POST', COLLECTION, body);
    // 409: imported meanwhile (another attempt, another instance): the same outcome.
    if (res.status === 201 || res.status === 200 || res.status === 409) return;
    throw failure('POST', COLLECTION, res);
  }

  /** Deletes the imports of these certificates (every import the receipt names, when none are given); one already gone is fine. */
  async withdraw(ref: DeliveryReceipt, credentials?: WithdrawnCredential[]): Promise<void> {
    const named = ref.reference.split(',').filter(Boolean);
    // Import ids are <userId>-<thumbprint>.
    const ids = credentials ? named.filter((id) => credentials.some((c) => id.endsWith(`-${thumbprint(c.certificate)}`))) : named;
    for (const id of ids) {
      const path = `${COLLECTION}/${encodeURIComponent(id)}`;
      const res = await this.deps.graph.request('DELETE', path);
      if (res.status !== 204 && res.status !== 200 && res.status !== 404) throw asDeliveryError(failure('DELETE', path, res));
    }
  }
}

/** 4xx (other than 408/429) is permanent; 429 keeps its Retry-After; the rest is retried. */
function asDeliveryError(err: unknown): unknown {
  if (err instanceof DeliveryError) return err;
  if (err instanceof GraphError) {
    const detail = { ...(err.status !== undefined && { status: err.status }), body: err.body };
    return new DeliveryError(err.message, !err.retryable, detail, err.retryAfterMs);
  }
  if (err instanceof TransportError) return new DeliveryError(err.message, false);
  return err;
}
