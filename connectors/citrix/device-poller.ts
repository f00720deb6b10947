/**
 * XenMobile pushes no events, so the connector reads the device list every
 * `pollEvery` and turns a device's departure (retired per `retiredWhen`, or
 * no longer listed) into one `unenrolled` event, whose handling revokes the
 * certificates issued through certsrv for that device.
 *
 * The devices seen are kept in the database, so a departure is reported once
 * across restarts. A device missing from the list counts as removed only
 * when the whole list was read and XenMobile also says the device does not
 * exist: a failed or partial read never revokes anything. The event is
 * accepted before the device's new state is saved, and its dedupe key is
 * derived from the saved state, so a crash in between repeats the same
 * (deduplicated) event rather than losing it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { durationMs } from '../../src/config/duration.js';
import type { MdmEvent } from '../../src/connectors/connector.js';
import { FIELD, fieldProblems, textProblem, type FieldProblem, type TextRule } from '../../src/connectors/field-text.js';
import type { EventIntake } from '../../src/connectors/intake.js';
import { unenrollRefusal } from '../../src/connectors/unenroll-guard.js';
import type { CitrixSettings } from './schema.js';
import type { DeviceState, KnownDevice, KnownDeviceRepository } from './store.js';
import type { XenMobileApi, XmDevice } from './xenmobile-api.js';

export interface PollResult {
  listed: number;
  retired: string[];
  removed: string[];
}

/** A field of the device, or properties.<NAME> for one of its properties. */
function fieldOf(device: XmDevice, field: string): unknown {
  if (field.startsWith('properties.')) {
    const name = field.slice('properties.'.length);
    return device.properties?.find((p) => p?.name === name)?.value;
  }
  return device[field];
}

const departed = (state: DeviceState | undefined) => state === 'retired' || state === 'gone';

/** The XenMobile fields a departure event carries besides the device's link (src/connectors/field-text.ts). */
const DESCRIPTIVE: Record<string, TextRule> = {
  userName: FIELD.userName,
  serialNumber: FIELD.serialNumber,
  platform: FIELD.platform,
  deviceModel: FIELD.model,
  deviceName: FIELD.deviceName,
};

/** The device without the descriptive fields that fail the check, and what fails in them. */
function withoutFailing(device: Record<string, unknown>): { device: Record<string, unknown>; dropped: FieldProblem[] } {
  const dropped = fieldProblems(Object.fromEntries(Object.entries(device).filter(([, v]) => typeof v === 'string')), DESCRIPTIVE);
  const failing = new Set(dropped.map((p) => p.field));
  return { device: Object.fromEntries(Object.entries(device).filter(([k]) => !failing.has(k))), dropped };
}

export class DevicePoller {
  constructor(
    private readonly deps: {
      connectorId: string;
      api: XenMobileApi;
      known: KnownDeviceRepository;
      intake: EventIntake;
      settings: CitrixSettings;
      log: Logger;
    },
  ) {}

  isRetired(device: XmDevice): boolean {
    return this.deps.settings.xenmobile.retiredWhen.every((rule) => {
      const actual = fieldOf(device, rule.field);
      return actual !== undefined && actual !== null && String(actual) === String(rule.equals);
    });
  }

  /** What certsrv requests name the device by (certsrv.device.field). */
  private linkOf(device: Record<string, unknown>): string {
    const v = this.deps.settings.certsrv.device.field === 'id' ? device.id : device.serialNumber;
    return typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '';
  }

  async pollOnce(): Promise<PollResult> {
    const listed = await this.deps.api.listDevices();
    const known = await this.deps.known.all();
    const result: PollResult = { listed: listed.length, retired: [], removed: [] };
    const listedIds = new Set(listed.map((d) => String(d.id)));
    // Links of devices still enrolled: a serial enrolled again under a new XenMobile id keeps its certificates.
    const activeLinks = new Set(listed.filter((d) => !this.isRetired(d)).map((d) => this.linkOf(d)));

    // Departures are gathered first: the unenroll guard weighs them all before any is acted on.
    const retiring: KnownDevice[] = [];
    for (const device of listed) {
      const xmId = String(device.id);
      const prev = known.get(xmId);
      const state: DeviceState = this.isRetired(device) ? 'retired' : 'active';
      if (state === 'retired' && !departed(prev?.state)) {
        retiring.push({ xmId, state, departures: prev?.departures ?? 0, device });
      } else if (!prev || prev.state !== state || JSON.stringify(prev.device) !== JSON.stringify(device)) {
        // A device that returns (re-enrolled) is active again; its next departure is a new event.
        await this.deps.known.save({ xmId, state, departures: prev?.departures ?? 0, device });
      }
    }

    const removed: KnownDevice[] = [];
    for (const prev of known.values()) {
      if (listedIds.has(prev.xmId) || prev.state === 'gone') continue;
      if (prev.state === 'retired') {
        await this.deps.known.save({ ...prev, state: 'gone' });
        continue;
      }
      let still: XmDevice | undefined;
      try {
        still = await this.deps.api.device(prev.xmId);
      } catch (err) {
        this.deps.log.warn({ err, xmId: prev.xmId }, 'XenMobile device missing from the list could not be looked up; checked again at the next poll');
        continue;
      }
      if (still) continue; // listed again next time; a list that shifted while it was paged
      removed.push({ ...prev, state: 'gone' });
    }

    const active = [...known.values()].filter((d) => !departed(d.state)).length;
    const refusal = unenrollRefusal(retiring.length + removed.length, active, this.deps.settings.xenmobile.unenrollGuard, 'xenmobile.unenrollGuard');
    if (refusal) {
      this.deps.log.error({ retiring: retiring.length, removed: removed.length, known: active }, refusal);
      return result;
    }
    for (const d of retiring) {
      await this.depart(d, 'device retired', activeLinks);
      result.retired.push(d.xmId);
    }
    for (const d of removed) {
      await this.depart(d, 'device removed', activeLinks);
      result.removed.push(d.xmId);
    }
    return result;
  }

  private async depart(d: KnownDevice, vendorType: 'device retired' | 'device removed', activeLinks: Set<string>): Promise<void> {
    const link = this.linkOf(d.device);
    const departures = d.departures + 1;
    const field = this.deps.settings.certsrv.device.field;
    const linkProblem = link ? textProblem(link, FIELD.deviceId) : undefined;
    const log = this.deps.log.child({ xmId: d.xmId, ...(!linkProblem && { device: link }), vendorType });
    if (!link) {
      log.warn(`XenMobile ${vendorType} has no ${field}; no certificate can be linked to it`);
    } else if (linkProblem) {
      // The event intake refuses such an id; the XenMobile id tells the operator which device it is.
      log.warn({ field, reason: linkProblem }, `XenMobile ${vendorType} whose ${field} fails the text check; no certificate can be linked to it`);
    } else if (activeLinks.has(link)) {
      log.warn(`XenMobile ${vendorType}, but another enrollment with ${field} ${link} is active: certificates linked to it stay valid`);
    } else {
      // A departure still revokes without the descriptive fields that fail: a device name must not keep certificates valid.
      const { device, dropped } = withoutFailing(d.device);
      if (dropped.length) log.warn({ left: dropped }, 'XenMobile departure reported without the fields that failed the text check');
      const event: MdmEvent = {
        connectorId: this.deps.connectorId,
        type: 'unenrolled',
        vendorType,
        user: { ...(typeof device.userName === 'string' && { userName: device.userName }) },
        device: {
          id: link,
          ...(typeof device.serialNumber === 'string' && { serialNumber: device.serialNumber }),
          ...(typeof device.platform === 'string' && { platform: device.platform }),
          ...(typeof device.deviceModel === 'string' && { model: device.deviceModel }),
          ...(typeof device.deviceName === 'string' && { name: device.deviceName }),
        },
        occurredAt: new Date(),
        dedupeKey: `xenmobile-device:${d.xmId}:departure:${departures}`,
      };
      const accepted = await this.deps.intake.accept(event, device);
      log.info({ eventId: accepted.eventId, duplicate: accepted.duplicate }, 'XenMobile device left: unenroll event accepted');
    }
    await this.deps.known.save({ ...d, departures });
  }

  /** Polls until the signal aborts; a failed poll is logged and tried again at the next interval. */
  async run(signal: AbortSignal): Promise<void> {
    const every = durationMs(this.deps.settings.xenmobile.pollEvery);
    while (!signal.aborted) {
      try {
        const r = await this.pollOnce();
        this.deps.log.debug(r, 'XenMobile devices polled');
      } catch (err) {
        this.deps.log.warn({ err }, 'XenMobile device poll failed; nothing was marked retired or removed; trying again at the next interval');
      }
      await sleep(every, undefined, { signal, ref: false }).catch(() => undefined);
    }
  }
}
