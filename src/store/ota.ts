/** iOS OTA enrollments: created by an operator, claimed by one device, completed once. */
import type { Db } from './db.js';
import type { KnexTarget } from './sql.js';

export type OtaStatus = 'pending' | 'device-bound' | 'issuing' | 'completed';

export interface OtaDevice {
  udid: string;
  serialNumber: string | null;
  product: string | null;
  osVersion: string | null;
  imei: string | null;
  /** Every attribute the device sent (CHALLENGE left out). */
  attributes: Record<string, string>;
}

export interface OtaEnrollment {
  id: string;
  credentialProfile: string;
  userId: string | null;
  user: Record<string, string>;
  status: OtaStatus;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  device: OtaDevice | null;
  boundAt: number | null;
  deviceCertSerial: string | null;
  issuedSerials: string[];
  completedAt: number | null;
}

interface Row {
  id: string;
  code_digest: string;
  credential_profile: string;
  user_id: string | null;
  user: string;
  status: OtaStatus;
  created_by: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
  udid: string | null;
  serial_number: string | null;
  product: string | null;
  os_version: string | null;
  imei: string | null;
  device: string | null;
  bound_at: number | null;
  device_cert_serial: string | null;
  issued_serials: string | null;
  completed_at: number | null;
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

const fromRow = (r: Row): OtaEnrollment => ({
  id: r.id,
  credentialProfile: r.credential_profile,
  userId: r.user_id,
  user: JSON.parse(r.user) as Record<string, string>,
  status: r.status,
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  expiresAt: Number(r.expires_at),
  device: r.udid
    ? {
        udid: r.udid,
        serialNumber: r.serial_number,
        product: r.product,
        osVersion: r.os_version,
        imei: r.imei,
        attributes: r.device ? (JSON.parse(r.device) as Record<string, string>) : {},
      }
    : null,
  boundAt: num(r.bound_at),
  deviceCertSerial: r.device_cert_serial,
  issuedSerials: r.issued_serials ? (JSON.parse(r.issued_serials) as string[]) : [],
  completedAt: num(r.completed_at),
});

export interface NewOtaEnrollment {
  id: string;
  codeDigest: string;
  credentialProfile: string;
  userId: string | null;
  user: Record<string, string>;
  createdBy: string;
  expiresAt: number;
}

export class OtaEnrollmentRepository {
  constructor(private readonly db: Db) {}

  async insert(trx: KnexTarget, e: NewOtaEnrollment, now = Date.now()): Promise<void> {
    await trx('ota_enrollments').insert({
      id: e.id,
      code_digest: e.codeDigest,
      credential_profile: e.credentialProfile,
      user_id: e.userId,
      user: JSON.stringify(e.user),
      status: 'pending',
      created_by: e.createdBy,
      created_at: now,
      updated_at: now,
      expires_at: e.expiresAt,
    });
  }

  async get(id: string, trx: KnexTarget = this.db): Promise<OtaEnrollment | undefined> {
    const r = (await trx<Row>('ota_enrollments').where({ id }).first()) as Row | undefined;
    return r && fromRow(r);
  }

  /** Looked up by the code's HMAC: the index compares, never the code itself. */
  async byCode(codeDigest: string): Promise<OtaEnrollment | undefined> {
    const r = (await this.db<Row>('ota_enrollments').where({ code_digest: codeDigest }).first()) as Row | undefined;
    return r && fromRow(r);
  }

  /**
   * Binds a pending enrollment to a device, or confirms it for the device it
   * is already bound to (a device may repeat phase 2). false: expired, bound
   * to another device, or past phase 2.
   */
  async bind(trx: KnexTarget, id: string, d: OtaDevice, now = Date.now()): Promise<boolean> {
    const n = await trx('ota_enrollments')
      .where({ id })
      .where('expires_at', '>', now)
      .where((q) => q.where({ status: 'pending' }).orWhere({ status: 'device-bound', udid: d.udid }))
      .update({
        status: 'device-bound',
        udid: d.udid,
        serial_number: d.serialNumber,
        product: d.product,
        os_version: d.osVersion,
        imei: d.imei,
        device: JSON.stringify(d.attributes),
        bound_at: now,
        updated_at: now,
      });
    return n === 1;
  }

  /**
   * Takes a device-bound enrollment for issuing, so two phase-3 requests
   * cannot both issue. An 'issuing' claim older than staleMs was left by a
   * crashed instance and may be taken again.
   */
  async claimForIssuing(id: string, udid: string, staleMs: number, now = Date.now()): Promise<boolean> {
    const n = await this.db('ota_enrollments')
      .where({ id, udid })
      .where('expires_at', '>', now)
      .where((q) => q.where({ status: 'device-bound' }).orWhere((s) => s.where({ status: 'issuing' }).where('updated_at', '<', now - staleMs)))
      .update({ status: 'issuing', updated_at: now });
    return n === 1;
  }

  /** Gives a claim back after a failed issue, so the device can try again. */
  async releaseClaim(id: string, now = Date.now()): Promise<void> {
    await this.db('ota_enrollments').where({ id, status: 'issuing' }).update({ status: 'device-bound', updated_at: now });
  }

  async complete(trx: KnexTarget, id: string, c: { deviceCertSerial: string; issuedSerials: string[] }, now = Date.now()): Promise<boolean> {
    const n = await trx('ota_enrollments')
      .where({ id, status: 'issuing' })
      .update({
        status: 'completed',
        device_cert_serial: c.deviceCertSerial,
        issued_serials: JSON.stringify(c.issuedSerials),
        completed_at: now,
        updated_at: now,
      });
    return n === 1;
  }
}
