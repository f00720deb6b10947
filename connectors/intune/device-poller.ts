/**
 * Enrollment events by polling: Intune sends no webhooks for managed
 * devices, so the connector lists them (every page) and compares with the
 * devices it knew. A new id, or a known id with a new enrolledDateTime, is
 * an enrollment; an id gone from a complete listing is an unenrollment. A
 * listing that fails part way changes nothing: a missing page must not
 * look like every device on it was removed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { MdmEvent } from '../../src/connectors/connector.js';
import { FIELD, fieldProblems, type TextRule } from '../../src/connectors/field-text.js';
import { InvalidEventError, type EventIntake } from '../../src/connectors/intake.js';
import { unenrollRefusal, type UnenrollGuard } from '../../src/connectors/unenroll-guard.js';
import type { DeviceStore } from './device-store.js';
import type { Graph } from './graph.js';

const FIELDS = [
  'id',
  'userId',
  'userPrincipalName',
  'emailAddress',
  'userDisplayName',
  'enrolledDateTime',
  'serialNumber',
  'operatingSystem',
  'model',
  'deviceName',
  'complianceState',
  'managedDeviceOwnerType',
];
export const MANAGED_DEVICES = `/v1.0/deviceManagement/managedDevices?$select=${FIELDS.join(',')}`;

export interface ManagedDevice {
  id: string;
  userId?: string;
  userPrincipalName?: string;
  emailAddress?: string;
  userDisplayName?: string;
  enrolledDateTime?: string;
  serialNumber?: string;
  operatingSystem?: string;
  model?: string;
  deviceName?: string;
  complianceState?: string;
  managedDeviceOwnerType?: string;
}

/** What the device store keeps of every listed device (migration 010_intune). */
const STORED: Record<string, TextRule> = { id: FIELD.deviceId, enrolledDateTime: { what: 'enrollment time', max: 64 } };
/** And what becomes an enrollment event's user and device (src/connectors/field-text.ts). */
const ENROLLED: Record<string, TextRule> = {
  ...STORED,
  userId: FIELD.userId,
  userPrincipalName: FIELD.upn,
  emailAddress: FIELD.email,
  userDisplayName: FIELD.displayName,
  serialNumber: FIELD.serialNumber,
  operatingSystem: FIELD.platform,
  model: FIELD.model,
  deviceName: FIELD.deviceName,
};

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function toEvent(connectorId: string, type: 'enrolled' | 'unenrolled', device: ManagedDevice, now = new Date()): MdmEvent {
  const enrolledAt = device.enrolledDateTime ?? '';
  const occurred = type === 'enrolled' && enrolledAt ? new Date(enrolledAt) : now;
  return {
    connectorId,
    type,
    vendorType: type === 'enrolled' ? 'managedDevice appeared' : 'managedDevice removed',
    user: defined({ id: device.userId, upn: device.userPrincipalName, email: device.emailAddress, displayName: device.userDisplayName }),
    device: defined({ id: device.id, serialNumber: device.serialNumber, platform: device.operatingSystem, model: device.model, name: device.deviceName }),
    occurredAt: Number.isNaN(occurred.getTime()) ? now : occurred,
    dedupeKey: `intune:${device.id}:${type}:${enrolledAt}`,
  };
}

function managedDevice(raw: Record<string, unknown>): ManagedDevice | undefined {
  const id = text(raw.id);
  if (!id) return undefined;
  return defined({
    id,
    userId: text(raw.userId),
    userPrincipalName: text(raw.userPrincipalName),
    emailAddress: text(raw.emailAddress),
    userDisplayName: text(raw.userDisplayName),
    enrolledDateTime: text(raw.enrolledDateTime),
    serialNumber: text(raw.serialNumber),
    operatingSystem: text(raw.operatingSystem),
    model: text(raw.model),
    deviceName: text(raw.deviceName),
    complianceState: text(raw.complianceState),
    managedDeviceOwnerType: text(raw.managedDeviceOwnerType),
  });
}

export interface ManagedDevicePollResult {
  listed: number;
  enrolled: string[];
  unenrolled: string[];
  /** Devices recorded without an event (first listing with initialSync: skip-existing). */
  recorded: number;
}

export class ManagedDevicePoller {
  constructor(
    private readonly deps: {
      connectorId: string;
      graph: Graph;
      store: DeviceStore;
      intake: EventIntake;
      initialSync: 'enroll' | 'skip-existing';
      unenrollGuard: UnenrollGuard;
      log: Logger;
    },
  ) {}

  /** Lists every managed device; throws (changing nothing) unless every page arrived. */
  async listing(signal?: AbortSignal): Promise<ManagedDevice[]> {
    const devices: ManagedDevice[] = [];
    for await (const page of this.deps.graph.list(MANAGED_DEVICES, signal)) {
      for (const raw of page) {
        const device = managedDevice(raw);
        if (device) devices.push(device);
      }
    }
    return devices;
  }

  async poll(signal?: AbortSignal): Promise<ManagedDevicePollResult> {
    const { connectorId, store, intake, log } = this.deps;
    const devices = await this.listing(signal);
    const known = await store.known();
    const baseline = this.deps.initialSync === 'skip-existing' && (await store.lastListing()) === undefined;
    const result: ManagedDevicePollResult = { listed: devices.length, enrolled: [], unenrolled: [], recorded: 0 };
    const present = new Set<string>();
    for (const device of devices) {
      present.add(device.id);
      const enrolledAt = device.enrolledDateTime ?? '';
      if (known.get(device.id) === enrolledAt) continue;
      // Not remembered: once the console's data is fixed, the next listing takes the device as it is then.
      const skip = (field: string, reason: string) =>
        log.warn(
          { ...(field !== 'id' && { deviceId: device.id }), field, reason },
          'managed device skipped until a listing shows it with fields that pass the text check',
        );
      const problem = fieldProblems({ ...device }, device.userId ? ENROLLED : STORED)[0];
      if (problem) {
        skip(problem.field, problem.problem);
        continue;
      }
      if (!device.userId) {
        // A userless device (kiosk, shared) has nobody to issue S/MIME credentials to.
        log.debug({ deviceId: device.id }, 'managed device without a user: no credentials');
      } else if (baseline) {
        result.recorded++;
      } else {
        // The event is accepted before the device is remembered: a crash in between repeats a deduplicated event, never loses one.
        try {
          await intake.accept(toEvent(connectorId, 'enrolled', device), device);
        } catch (err) {
          if (!(err instanceof InvalidEventError)) throw err;
          skip('event', err.message);
          continue;
        }
        result.enrolled.push(device.id);
      }
      await store.remember({ id: device.id, enrolledAt });
    }
    const gone = [...known].filter(([id]) => !present.has(id));
    const refusal = unenrollRefusal(gone.length, known.size, this.deps.unenrollGuard, 'polling.unenrollGuard');
    if (refusal) {
      log.error({ departing: gone.length, known: known.size }, refusal);
    } else {
      for (const [id, enrolledAt] of gone) {
        await intake.accept(toEvent(connectorId, 'unenrolled', { id, enrolledDateTime: enrolledAt }), { id, enrolledDateTime: enrolledAt });
        await store.forget(id);
        result.unenrolled.push(id);
      }
    }
    await store.listed(devices.length);
    if (result.enrolled.length || result.unenrolled.length || result.recorded) log.info(result, 'managed devices listed');
    return result;
  }

  /** Polls every `intervalMs` until the signal aborts; a failed poll is logged and retried at the next interval. */
  async run(intervalMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.poll(signal);
      } catch (err) {
        if (signal.aborted) return; // stopped while waiting out throttling: nothing failed
        this.deps.log.error({ error: (err as Error).message }, 'managed device listing failed; nothing changes until a listing completes');
      }
      await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }
}
