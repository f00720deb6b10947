/**
 * Graph's beta userPfxCertificates collection ("userPFXCertificate resource
 * type", Microsoft Graph beta): imports found by user and thumbprint,
 * created, and deleted by their id.
 */
import { failure, type Graph } from './graph.js';

export const COLLECTION = '/beta/deviceManagement/userPfxCertificates';

/** An OData string literal: single quotes doubled. */
const odata = (s: string) => `'${s.replace(/'/g, "''")}'`;

const idOf = (item: unknown): string | undefined => {
  const id = (item as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
};

export class PfxCollection {
  constructor(private readonly graph: Graph) {}

  /**
   * The user's imports of this certificate, each with the id Graph lists it
   * under (undefined if it names none), by the filter Microsoft's PFXImport
   * sample uses: tolower(userPrincipalName) and tolower(thumbprint).
   */
  async find(upn: string, thumbprint: string): Promise<{ id: string | undefined }[]> {
    const filter = `tolower(userPrincipalName) eq ${odata(upn.toLowerCase())} and tolower(thumbprint) eq ${odata(thumbprint.toLowerCase())}`;
    const data = await this.graph.get(`${COLLECTION}?$filter=${encodeURIComponent(filter)}`);
    return (Array.isArray(data.value) ? data.value : []).map((item) => ({ id: idOf(item) }));
  }

  /** POSTs an import: `created` with the id Graph's answer gave it, or `conflict` (409) when it exists already. */
  async create(body: object): Promise<{ outcome: 'created'; id: string | undefined } | { outcome: 'conflict' }> {
    const res = await this.graph.request('POST', COLLECTION, body);
    if (res.status === 201 || res.status === 200) return { outcome: 'created', id: idOf(res.data) };
    if (res.status === 409) return { outcome: 'conflict' };
    throw failure('POST', COLLECTION, res);
  }

  /**
   * Deletes the import with this id: true when Graph deleted it, false when
   * it answered one of `absent` (no import has this id); anything else throws.
   */
  async remove(id: string, absent: readonly number[] = [404]): Promise<boolean> {
    const path = `${COLLECTION}/${encodeURIComponent(id)}`;
    const res = await this.graph.request('DELETE', path);
    if (res.status === 204 || res.status === 200) return true;
    if (absent.includes(res.status)) return false;
    throw failure('DELETE', path, res);
  }
}
