/** Proofs a mobile ID's holder has used, each until it expires: a second use of one is a replay. */
import { createHash } from 'node:crypto';
import { isUniqueViolation, type Db } from './db.js';

export class HolderProofRepository {
  constructor(private readonly db: Db) {}

  /** Records a proof as used; false when it was used before (by any instance). */
  async spend(mobileId: string, jti: string, expiresAt: number): Promise<boolean> {
    const digest = createHash('sha256').update(`${mobileId}\n${jti}`).digest('hex');
    try {
      await this.db('holder_proofs').insert({ digest, mobile_id: mobileId, expires_at: expiresAt });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /** Forgets proofs that expired before `before`: they are refused for their time anyway. */
  async sweep(before = Date.now()): Promise<number> {
    return this.db('holder_proofs').where('expires_at', '<', before).delete();
  }
}
