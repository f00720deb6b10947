/**
 * What the core does with MDM events, per the connector's YAML policy:
 * enrolled -> issue the credential set and queue its delivery; unenrolled
 * or wiped -> revoke the device's signing certificates. Both steps are jobs,
 * so they survive crashes; both are idempotent, so a retried job or a
 * redelivered event does nothing twice.
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { durationMs } from '../config/duration.js';
import { EscrowedKeys } from '../identity/escrowed-keys.js';
import { MYID_REFUSALS } from '../identity/requests.js';
import type { UnmanagedCertificates } from '../identity/unmanaged-certificates.js';
import type { JobQueue } from '../jobs/queue.js';
import { PermanentJobError, RetryLaterError, type JobHandler } from '../jobs/worker.js';
import { IssuanceError, type Issuer } from '../pki/issuer.js';
import type { KeyRecovery } from '../pki/key-recovery.js';
import { openBytes, sealBytes, type MasterKey } from '../pki/key-wrap.js';
import { buildPkcs12, type Pkcs12Format } from '../pki/pkcs12.js';
import type { Revoker } from '../pki/revoker.js';
import type { AuditRepository } from '../store/audit.js';
import type { CertificateRepository } from '../store/certificates.js';
import type { Db } from '../store/db.js';
import { deliveryContext, type DeliveryRepository } from '../store/deliveries.js';
import type { EventRepository, StoredEvent } from '../store/events.js';
import { transaction, type Sql } from '../store/sql.js';
import { DeliveryError, type Connector, type CredentialSet, type DeliveredCredential, type DeliveryReceipt, type MdmEvent, type MdmUser } from './connector.js';
import { userProblem } from './field-text.js';
import { EVENT_JOB } from './intake.js';

/** A policy slot filled by the person's uploaded certificate for that purpose. */
export interface UploadedEncryptionSlot {
  unmanaged: 'encryption';
}
const isTemplate = (t: string | UploadedEncryptionSlot | undefined): t is string => typeof t === 'string';

export const DELIVER_JOB = 'connector.deliver';
export const RENEW_JOB = 'connector.renew';
export const WITHDRAW_JOB = 'connector.withdraw';
/** Deliveries of credentials already issued run before new enrollment events. */
const DELIVERY_PRIORITY = 10;

export interface ConnectorPolicy {
  /**
   * Templates issued on enrollment: a signing credential per device, the
   * user's encryption credential; or, for encryption, the person's upload
   * issued elsewhere (src/identity/unmanaged-certificates.ts).
   */
  enrolled: { signing?: string | undefined; encryption?: string | UploadedEncryptionSlot | undefined };
  onUnenroll: 'revoke-signing' | 'keep';
  /**
   * Templates of the device certificates the MDM requested itself through a
   * CA front of its connector (Citrix certsrv); revoked on unenroll with the
   * signing credential.
   */
  deviceTemplates?: string[];
  renewal: { before: string; checkEvery: string };
  /** How issued credentials are packed for delivery; absent for connectors that deliver none. */
  pkcs12?: { format: Pkcs12Format; password: string };
}

export interface ConnectorEntry {
  connector: Connector;
  policy: ConnectorPolicy;
}

interface SealedCredential {
  serialNumber: string;
  purpose: DeliveredCredential['purpose'];
  archived: boolean;
  pkcs12: string;
}

type IssuedCredential = SealedCredential & { notAfter: number };

/** Where a set goes: the event (or the delivery it renews), the device and the user. */
interface DeliveryTarget {
  eventId: number | null;
  renews: number | null;
  deviceId: string;
  userId: string | null;
}

/** What templates fill names from: the display name falls back to the user name, then the address. */
const credentialData = (user: MdmUser, device: Record<string, unknown>) => ({
  user: { ...user, displayName: user.displayName ?? user.userName ?? user.email },
  device,
});

/** AAD binding a sealed payload to its connector and device. */

export class CredentialPipeline {
  constructor(
    private readonly deps: {
      db: Db;
      events: EventRepository;
      deliveries: DeliveryRepository;
      certificates: CertificateRepository;
      issuer: Issuer;
      recovery: KeyRecovery;
      /** The person a connector's user is, and that person's escrowed keys. */
      keys: EscrowedKeys;
      /** Certificates issued elsewhere, for a policy's `{ unmanaged: encryption }`. */
      unmanaged: UnmanagedCertificates;
      revoker: Revoker;
      audit: AuditRepository;
      queue: JobQueue;
      master: MasterKey;
      connector(id: string): ConnectorEntry | undefined;
      log: Logger;
    },
  ) {}

  handlers(): Record<string, JobHandler> {
    return {
      [EVENT_JOB]: (payload) => this.onEvent((payload as { eventId: number }).eventId),
      [DELIVER_JOB]: (payload) => this.deliver((payload as { deliveryId: number }).deliveryId),
      [RENEW_JOB]: (payload) => this.renew((payload as { deliveryId: number }).deliveryId),
      [WITHDRAW_JOB]: (payload) => this.withdraw((payload as { deliveryId: number }).deliveryId, (payload as { serials: string[] }).serials),
    };
  }

  private pkcs12Of(connectorId: string, policy: ConnectorPolicy): NonNullable<ConnectorPolicy['pkcs12']> {
    if (!policy.pkcs12) throw new PermanentJobError(`connector ${connectorId} has no pkcs12 settings, so it delivers no credentials`);
    return policy.pkcs12;
  }

  private entry(connectorId: string): ConnectorEntry {
    const entry = this.deps.connector(connectorId);
    if (!entry) throw new PermanentJobError(`connector ${connectorId} is not configured any more`);
    return entry;
  }

  async onEvent(eventId: number): Promise<unknown> {
    const event = await this.deps.events.get(eventId);
    if (!event) throw new PermanentJobError(`event ${eventId} does not exist`);
    const entry = this.entry(event.connectorId);
    if (!event.deviceId) throw new PermanentJobError('the event names no device');
    if (event.type === 'enrolled') return this.enrolled(event, entry);
    if (event.type === 'unenrolled' || event.type === 'wiped') return this.unenrolled(event, entry);
    return { ignored: event.type };
  }

  private async enrolled(event: StoredEvent, { connector, policy }: ConnectorEntry): Promise<unknown> {
    if (!policy.enrolled.signing && !policy.enrolled.encryption) return { ignored: 'the connector issues nothing on enrollment' };
    const existing = await this.deps.deliveries.byEvent(event.id);
    if (existing) {
      await this.deps.queue.enqueue(
        this.deps.db,
        DELIVER_JOB,
        { deliveryId: existing.id },
        { dedupeKey: `delivery:${existing.id}`, priority: DELIVERY_PRIORITY },
      );
      return { deliveryId: existing.id, reused: true };
    }
    const user = await this.completeUser(event, connector);
    if (!user.email) {
      const why = connector.resolveUser
        ? "the event has none and the connector's lookup found none"
        : 'the event has none and the connector cannot look it up (configure its UEM API access)';
      throw new PermanentJobError(`no email address for user ${user.userName ?? user.id ?? '?'}: ${why}`);
    }
    const deviceId = event.deviceId!;
    const device = event.device;
    await this.checkIssuable(connector, policy, user, device, deviceId);
    await this.deps.events.rememberDeviceUser(this.deps.db, event.connectorId, deviceId, { ...user });
    return this.issueAndQueue(event.connectorId, policy, user, device, `enrollment event ${event.id}`, {
      eventId: event.id,
      renews: null,
      deviceId,
      userId: user.id ?? null,
    });
  }

  /**
   * What could stop a set from being issued whole or delivered, checked
   * before any of it is issued: a set that fails half-way, or cannot reach
   * the device, leaves valid certificates that nobody receives. The user
   * is checked again here because a connector's lookup may have filled it.
   */
  private async checkIssuable(connector: Connector, policy: ConnectorPolicy, user: MdmUser, device: Record<string, unknown>, deviceId: string): Promise<void> {
    const problem = userProblem(user);
    if (problem) throw new PermanentJobError(`nothing issued: the user's ${problem}`);
    const gap = await connector.undeliverable?.({ user, device: { id: deviceId } });
    if (gap) throw new PermanentJobError(`nothing issued: ${gap}`);
    const data = credentialData(user, device);
    for (const template of [policy.enrolled.encryption, policy.enrolled.signing]) {
      if (!isTemplate(template)) continue;
      try {
        this.deps.issuer.checkNames(template, data);
      } catch (err) {
        if (err instanceof IssuanceError) throw new PermanentJobError(`nothing issued: ${err.message}`);
        throw err;
      }
    }
  }

  /**
   * Issues what the policy names for one device and queues its delivery.
   * The device's signing certificate commits in one transaction with the
   * delivery that carries it and that delivery's job, so a job that dies
   * half-way leaves no valid certificate that nobody will receive. The
   * user's encryption credential comes first: it is escrowed, and a retried
   * job finds it again instead of issuing another. Both are recorded under
   * the person the user is (src/identity/escrowed-keys.ts): a directory
   * person with the user's UPN or address shares one encryption key with
   * their mobile IDs, OTA enrollments and other consoles' devices.
   */
  private async issueAndQueue(
    connectorId: string,
    policy: ConnectorPolicy,
    user: MdmUser,
    device: Record<string, unknown>,
    reason: string,
    d: DeliveryTarget,
  ): Promise<{ deliveryId: number; serials: string[] }> {
    const pkcs12 = this.pkcs12Of(connectorId, policy);
    const actor = `connector:${connectorId}`;
    const data = credentialData(user, device);
    const holder = await this.deps.keys.holderOf(user);
    const encryption: IssuedCredential[] = [];
    const template = policy.enrolled.encryption;
    if (template && !isTemplate(template)) {
      encryption.push(await this.uploaded(holder, user, template, actor, reason, policy.renewal, pkcs12));
    } else if (template) {
      const issue = () => this.encryption(template, holder, data, d.deviceId, actor, reason, policy.renewal, pkcs12);
      encryption.push(...(await (holder ? this.deps.keys.exclusive(holder, template, issue) : issue())));
    }
    let queued: { deliveryId: number; serials: string[] } | undefined;
    if (policy.enrolled.signing) {
      await this.deps.issuer.issue({
        template: policy.enrolled.signing,
        data,
        userId: holder,
        deviceId: d.deviceId,
        actor,
        reason,
        within: async (sql, issued) => {
          const p12 = buildPkcs12({ key: issued.privateKey!, cert: issued.der, chain: issued.chain, ...pkcs12, friendlyName: issued.record.subject });
          const signing: IssuedCredential = {
            serialNumber: issued.record.serial,
            purpose: 'signing',
            archived: false,
            pkcs12: p12.toString('base64'),
            notAfter: issued.record.notAfter,
          };
          queued = await this.recordDelivery(sql, connectorId, d, [signing, ...encryption]);
        },
      });
    } else {
      queued = await transaction(this.deps.db, (sql) => this.recordDelivery(sql, connectorId, d, encryption));
    }
    this.deps.queue.wake();
    return queued!;
  }

  /** Seals the set and records its delivery and the delivery's job in the caller's transaction. */
  private async recordDelivery(
    sql: Sql,
    connectorId: string,
    d: DeliveryTarget,
    credentials: IssuedCredential[],
  ): Promise<{ deliveryId: number; serials: string[] }> {
    const current = credentials.filter((c) => !c.archived);
    const payload: SealedCredential[] = credentials.map(({ notAfter: _n, ...c }) => c);
    const sealed = sealBytes(this.deps.master, Buffer.from(JSON.stringify(payload)), deliveryContext(connectorId, d.deviceId));
    const serials = credentials.map((c) => c.serialNumber);
    const deliveryId = await this.deps.deliveries.create(sql, {
      connectorId,
      ...d,
      serials,
      kekId: this.deps.master.id,
      wrappedPayload: sealed,
      expiresAt: current.length ? Math.min(...current.map((c) => c.notAfter)) : null,
    });
    await this.deps.queue.enqueue(sql, DELIVER_JOB, { deliveryId }, { dedupeKey: `delivery:${deliveryId}`, priority: DELIVERY_PRIORITY });
    return { deliveryId, serials };
  }

  /** Queues a renewal for every delivered set of the connector that expires within its window; each set is renewed once. */
  async scheduleRenewals(connectorId: string, now = Date.now()): Promise<number[]> {
    const { policy } = this.entry(connectorId);
    const due = await this.deps.deliveries.dueForRenewal(connectorId, now + durationMs(policy.renewal.before));
    const queued: number[] = [];
    for (const d of due) {
      const id = await this.deps.queue.enqueue(this.deps.db, RENEW_JOB, { deliveryId: d.id }, { dedupeKey: `renew:${d.id}` });
      if (id !== undefined) queued.push(d.id);
    }
    if (queued.length) this.deps.queue.wake();
    return queued;
  }

  async renew(deliveryId: number): Promise<unknown> {
    const old = await this.deps.deliveries.get(deliveryId);
    if (!old) throw new PermanentJobError(`delivery ${deliveryId} does not exist`);
    if (old.renewedAt !== null) return { alreadyRenewed: true };
    if (!old.deviceId) throw new PermanentJobError(`delivery ${deliveryId} names no device`);
    const { connector, policy } = this.entry(old.connectorId);
    const user = { ...((await this.deps.events.deviceUser(old.connectorId, old.deviceId)) ?? {}), ...(old.userId && { id: old.userId }) } as MdmUser;
    await this.checkIssuable(connector, policy, user, { id: old.deviceId }, old.deviceId);
    const renewal = await this.issueAndQueue(old.connectorId, policy, user, { id: old.deviceId }, `renewal of delivery ${deliveryId}`, {
      eventId: null,
      renews: deliveryId,
      deviceId: old.deviceId,
      userId: old.userId,
    });
    return { deliveryId: renewal.deliveryId, serials: renewal.serials };
  }

  /**
   * The holder's encryption credential: their current escrowed one when it
   * is not due for renewal (the same key on every device, whichever path
   * issued it), else a new one. Older escrowed credentials travel as
   * archived so old mail stays readable.
   */
  private async encryption(
    template: string,
    holder: string | null,
    data: Record<string, unknown>,
    deviceId: string,
    actor: string,
    reason: string,
    renewal: ConnectorPolicy['renewal'],
    pkcs12: NonNullable<ConnectorPolicy['pkcs12']>,
  ): Promise<IssuedCredential[]> {
    const escrowed = holder ? await this.deps.keys.of(holder, template) : [];
    const current = EscrowedKeys.current(escrowed, Date.now() + durationMs(renewal.before));
    const out: IssuedCredential[] = [];
    const exportKey = async (serial: string, notAfter: number, archived: boolean) => {
      const p12 = await this.deps.recovery.export(serial, { ...pkcs12, actor, action: 'key.deliver', reason });
      if (p12) out.push({ serialNumber: serial, purpose: 'encryption', archived, pkcs12: p12.toString('base64'), notAfter });
    };
    if (current) {
      await exportKey(current.serial, current.notAfter, false);
    } else {
      const issued = await this.deps.issuer.issue({ template, data, userId: holder, deviceId, actor, reason });
      const p12 = buildPkcs12({ key: issued.privateKey!, cert: issued.der, chain: issued.chain, ...pkcs12, friendlyName: issued.record.subject });
      out.push({
        serialNumber: issued.record.serial,
        purpose: 'encryption',
        archived: false,
        pkcs12: p12.toString('base64'),
        notAfter: issued.record.notAfter,
      });
    }
    for (const old of escrowed.filter((c) => c.serial !== current?.serial && c.serial !== out[0]?.serialNumber)) {
      await exportKey(old.serial, old.notAfter, true);
    }
    return out;
  }

  /**
   * The person's current upload for the slot, re-exported under the
   * connector's PKCS#12 settings. credgate cannot renew a certificate it did
   * not issue: one inside the renewal window is refused like a missing one,
   * so a renewal waits (a dead job to retry) for a newer upload instead of
   * delivering the same certificate again at every check.
   */
  private async uploaded(
    holder: string | null,
    user: MdmUser,
    slot: UploadedEncryptionSlot,
    actor: string,
    reason: string,
    renewal: ConnectorPolicy['renewal'],
    pkcs12: NonNullable<ConnectorPolicy['pkcs12']>,
  ): Promise<IssuedCredential> {
    const found = holder ? await this.deps.unmanaged.current(holder, slot.unmanaged) : undefined;
    if (!found || found.record.notAfter <= Date.now() + durationMs(renewal.before)) {
      const who = user.email ?? user.upn ?? 'the user';
      const why = !holder
        ? `${who} is no person in the directory, so has no uploaded certificate`
        : found
          ? `the uploaded ${slot.unmanaged} certificate ${found.record.serial} of ${who} expires on ${new Date(found.record.notAfter).toISOString()}, within the renewal window (policy.renewal.before: ${renewal.before})`
          : `${who} has no valid uploaded ${slot.unmanaged} certificate`;
      throw new PermanentJobError(
        `nothing issued: ${MYID_REFUSALS.noCertificates} ${why}; an administrator uploads one (POST /api/v1/users/{ref}/certificates, purpose ${slot.unmanaged}) and retries the job`,
      );
    }
    const p12 = await this.deps.unmanaged.export(found.upload, { ...pkcs12, actor, reason });
    return { serialNumber: found.record.serial, purpose: 'encryption', archived: false, pkcs12: p12.toString('base64'), notAfter: found.record.notAfter };
  }

  private async completeUser(event: StoredEvent, connector: Connector): Promise<MdmUser> {
    const user = event.user as MdmUser;
    if (user.email || !connector.resolveUser) return user;
    const asEvent: MdmEvent = {
      connectorId: event.connectorId,
      type: event.type as MdmEvent['type'],
      vendorType: event.vendorType,
      user,
      device: { ...(event.device as MdmEvent['device']) },
      occurredAt: new Date(event.occurredAt),
      dedupeKey: event.dedupeKey,
    };
    return { ...user, ...(await connector.resolveUser(asEvent)) };
  }

  /**
   * The device's signing (and MDM-requested device) certificates that this
   * connector issued are revoked, never another connector's or the admin
   * API's for a device of the same id; the escrowed encryption credential is
   * the user's and stays. What the MDM still holds of the revoked
   * certificates is withdrawn through a job per delivery.
   */
  private async unenrolled(event: StoredEvent, { connector, policy }: ConnectorEntry): Promise<unknown> {
    const templates = [...new Set([...(policy.enrolled.signing ? [policy.enrolled.signing] : []), ...(policy.deviceTemplates ?? [])])];
    if (policy.onUnenroll === 'keep' || templates.length === 0) return { revoked: [] };
    const actor = `connector:${event.connectorId}`;
    const certs = [];
    for (const template of templates) certs.push(...(await this.deps.certificates.list({ deviceId: event.deviceId!, template, status: 'valid', limit: 1000 })));
    const ours = await this.deps.audit.issuedBy(
      actor,
      certs.map((c) => c.serial),
    );
    const revoked: string[] = [];
    for (const c of certs.filter((c) => ours.has(c.serial))) {
      // Another worker may have revoked it meanwhile: that is the same outcome.
      await this.deps.revoker
        .revoke(c.serial, 'cessationOfOperation', actor, `${event.type} event ${event.id}`)
        .then(() => revoked.push(c.serial))
        .catch((err: unknown) => this.deps.log.warn({ err, serial: c.serial }, 'revocation on unenroll skipped'));
    }
    const withdrawals = connector.withdraw ? await this.queueWithdrawals(event.connectorId, event.deviceId!, templates) : [];
    return { revoked, withdrawals };
  }

  /** One withdrawal job per delivered set of the device that carried certificates of these templates (once per set, however often the device leaves). */
  private async queueWithdrawals(connectorId: string, deviceId: string, templates: string[]): Promise<number[]> {
    const queued: number[] = [];
    for (const d of await this.deps.deliveries.deliveredTo(connectorId, deviceId)) {
      const serials = [];
      for (const serial of d.serials) if (templates.includes((await this.deps.certificates.get(serial))?.template ?? '')) serials.push(serial);
      if (serials.length === 0) continue;
      await this.deps.queue.enqueue(this.deps.db, WITHDRAW_JOB, { deliveryId: d.id, serials }, { dedupeKey: `withdraw:${d.id}`, priority: DELIVERY_PRIORITY });
      queued.push(d.id);
    }
    if (queued.length) this.deps.queue.wake();
    return queued;
  }

  async withdraw(deliveryId: number, serials: string[]): Promise<unknown> {
    const delivery = await this.deps.deliveries.get(deliveryId);
    if (!delivery) throw new PermanentJobError(`delivery ${deliveryId} does not exist`);
    const { connector } = this.entry(delivery.connectorId);
    if (!connector.withdraw || !delivery.receipt) return { withdrawn: [] };
    const credentials = [];
    for (const serial of serials) {
      const record = await this.deps.certificates.get(serial);
      if (record) credentials.push({ serialNumber: serial, certificate: new X509Certificate(record.pem).raw });
    }
    const receipt = delivery.receipt as DeliveryReceipt;
    try {
      await connector.withdraw({ ...receipt, deliveredAt: new Date(receipt.deliveredAt) }, credentials);
    } catch (err) {
      if (err instanceof DeliveryError && err.permanent) throw new PermanentJobError(err.message, err.detail);
      if (err instanceof DeliveryError && err.retryAfterMs !== undefined) throw new RetryLaterError(err.message, err.retryAfterMs);
      throw err;
    }
    this.deps.log.info({ connector: delivery.connectorId, deliveryId, serials }, 'withdrawn from the MDM');
    return { withdrawn: serials };
  }

  async deliver(deliveryId: number): Promise<unknown> {
    const delivery = await this.deps.deliveries.get(deliveryId);
    if (!delivery) throw new PermanentJobError(`delivery ${deliveryId} does not exist`);
    if (delivery.status === 'delivered') return { alreadyDelivered: true };
    const { connector, policy } = this.entry(delivery.connectorId);
    if (!connector.deliver) throw new PermanentJobError(`connector ${delivery.connectorId} cannot deliver credentials`);
    if (!delivery.wrappedPayload || !delivery.kekId) throw new PermanentJobError(`delivery ${deliveryId} has no payload`);
    const sealed = JSON.parse(
      openBytes(this.deps.master, delivery.kekId, delivery.wrappedPayload, deliveryContext(delivery.connectorId, delivery.deviceId)).toString(),
    ) as SealedCredential[];
    const user = (delivery.deviceId && (await this.deps.events.deviceUser(delivery.connectorId, delivery.deviceId))) || {};
    const { password } = this.pkcs12Of(delivery.connectorId, policy);
    const credentials: DeliveredCredential[] = [];
    for (const c of sealed) {
      const record = await this.deps.certificates.get(c.serialNumber);
      if (!record) throw new PermanentJobError(`delivery ${deliveryId} names certificate ${c.serialNumber}, which does not exist`);
      credentials.push({ ...c, pkcs12: Buffer.from(c.pkcs12, 'base64'), password, certificate: new X509Certificate(record.pem).raw });
    }
    const set: CredentialSet = {
      deliveryId,
      user: { ...(user as MdmUser), ...(delivery.userId && { id: delivery.userId }) },
      ...(delivery.deviceId && { device: { id: delivery.deviceId } }),
      credentials,
    };
    try {
      const receipt = await connector.deliver(set);
      await this.deps.deliveries.markDelivered(deliveryId, receipt);
      return receipt;
    } catch (err) {
      if (err instanceof DeliveryError && err.permanent) {
        await this.deps.deliveries.markFailed(deliveryId, `${err.message}${err.detail?.body ? `: ${err.detail.body}` : ''}`);
        throw new PermanentJobError(err.message, err.detail);
      }
      if (err instanceof DeliveryError && err.retryAfterMs !== undefined) throw new RetryLaterError(err.message, err.retryAfterMs);
      throw err;
    }
  }
}
