/**
 * Requesting mobile IDs: for another person or for yourself, each checked
 * against the credential profile's roles; a one-time code to the profile's
 * complexity, stored only as an HMAC and shown once (to the requester, or to
 * the validator when the profile requires validation); notification by
 * email, SMS or QR code.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { durationMs } from '../config/duration.js';
import { qrPng, qrSvg } from '../notify/qr.js';
import { renderNames, TemplateError, type NameTemplate } from '../pki/template.js';
import type { AuditRepository } from '../store/audit.js';
import type { CertificateRepository } from '../store/certificates.js';
import type { Db } from '../store/db.js';
import type { MobileId, MobileIdRepository } from '../store/mobile-ids.js';
import type { Person, PersonRepository } from '../store/people.js';
import { IdentityError } from './errors.js';
import type { MessageDelivery, DeliveryPlan, Notifications, NotifyChoice } from './notifications.js';
import { type CodeMac, codeLength, generateCode } from './otp.js';
import { citrixEmailWarning, hasCitrixContainer } from './citrix-email.js';
import { collectable, isDerived, mayAct, templateData, type MobileProfile } from './profiles.js';
import type { OperatorScope, ResolvedViewer } from './scope.js';
import type { UnmanagedCertificates } from './unmanaged-certificates.js';

/** Who is asking: the authenticated API caller. */
export interface Caller {
  /** "method:name", as the audit trail records actors. */
  actor: string;
  name: string;
  roles: string[];
  /** The gateway acting on its own account, beyond any operator scope (scope.ts, Viewer). */
  system?: boolean;
}

export interface NewRequest {
  /** The person's id or user name; omitted: the caller's own user record ("Request My ID"). */
  user?: string;
  credentialProfile?: string;
  notify?: NotifyChoice;
  /** Also answer with a QR code (PNG and SVG) the Identity Agent can scan. */
  qr?: boolean;
  /** The mobile ID this one replaces (lifecycle), or supersedes once issued (derived credentials). */
  replaces?: string;
  /**
   * A derived credential: its holder proved who they are with a PIV card and
   * is shown the code; nothing is sent. `bind` runs in the request's transaction.
   */
  derived?: { bind: (trx: Knex.Transaction, mobileId: string) => Promise<void> };
}

export interface MobileIdView extends Omit<MobileId, 'status'> {
  status: MobileId['status'] | 'expired';
  userName: string | null;
}

export interface IssuedCode {
  mobileId: MobileIdView;
  /** Present only when the code is shown to this caller. */
  code?: string;
  link: string;
  qr?: { png: string; svg: string };
  notifications: MessageDelivery[];
  /** What the operator should fix before the user collects, e.g. an email address the Citrix store will not match (citrix-email.ts). */
  warnings?: string[];
}

// Refusals in MyID's words, which operators coming from MyID know; where they are used, what to do about them follows.
export const MYID_REFUSALS = {
  noContact: 'The selected user has neither phone number nor email address registered and so is not suitable for mobile device activation.',
  noProfile: 'The selected user has no certificates suitable for mobile devices and there are no credential profiles available for issuance.',
  noCertificates: "None of the selected user's certificates are configured to be allowed to be put on a mobile phone.",
};
const PROFILE_HINT = 'Make sure that the user has permission to receive the credential profile, and that the issuer can issue the credential profile.';

export const CODE_PURPOSE = 'mobile code';

export class RequestService {
  constructor(
    private readonly deps: {
      db: Db;
      people: PersonRepository;
      mobileIds: MobileIdRepository;
      certificates: CertificateRepository;
      audit: AuditRepository;
      profiles: Record<string, MobileProfile>;
      /** Whom each caller reaches: a person out of scope is answered as one who does not exist. */
      scope: OperatorScope;
      /** Name templates, to check at request time that the user's data fills them. */
      templates: Record<string, NameTemplate>;
      notifications: Notifications;
      /** Whether a person has a valid uploaded certificate for a purpose (profiles with `unmanaged` slots). */
      unmanaged: Pick<UnmanagedCertificates, 'has'>;
      mac: CodeMac;
      log: Logger;
    },
  ) {}

  /** The caller's roles (their credential's plus their user record's, if they have one), their record and their operator scope. */
  async rolesOf(caller: Caller): Promise<ResolvedViewer> {
    return this.deps.scope.resolve(caller);
  }

  async request(caller: Caller, req: NewRequest): Promise<IssuedCode> {
    const me = await this.rolesOf(caller);
    const { roles, person: self } = me;
    let person: Person | undefined;
    if (req.user === undefined) {
      if (!self)
        throw new IdentityError(
          'bad_request',
          `you (${caller.name}) have no user record, so there is no one to request "my ID" for; name a user, or ask an administrator to add one with userName "${caller.name}"`,
        );
      person = self;
    } else {
      // Out of the caller's scope reads as unknown: the same query, the same answer.
      person = await this.deps.people.find(req.user, this.deps.db, me.filter);
      if (!person) throw new IdentityError('not_found', `no user ${req.user}`);
    }
    const derived = req.derived !== undefined;
    if (!derived && !person.email && !person.mobile) throw new IdentityError('bad_request', MYID_REFUSALS.noContact);
    const profile = this.chooseProfile(person, roles, req.credentialProfile, derived);
    await this.checkCertificates(person, profile);
    const citrixWarning = hasCitrixContainer(profile) ? citrixEmailWarning(person) : undefined;
    const plan: DeliveryPlan = derived ? { code: 'screen', notifyBy: null } : this.deps.notifications.plan(person, req.notify);

    const id = randomUUID();
    const expiresAt = Date.now() + durationMs(profile.requestExpiry);
    const code = profile.requireValidation ? undefined : generateCode(codeLength(profile.otpComplexity));
    await this.deps.db.transaction(async (trx) => {
      await this.deps.mobileIds.insert(trx, {
        id,
        userId: person.id,
        credentialProfile: profile.name,
        status: code ? 'ready' : 'awaiting-validation',
        codeDigest: code ? this.deps.mac.digest(CODE_PURPOSE, id, code) : null,
        requestedBy: caller.actor,
        replaces: req.replaces ?? null,
        expiresAt,
      });
      await req.derived?.bind(trx, id);
      await this.deps.audit.append(trx, {
        actor: caller.actor,
        action: 'mobile-id.request',
        subjectType: 'mobile-id',
        subjectId: id,
        detail: {
          userId: person.id,
          credentialProfile: profile.name,
          self: person.id === self?.id,
          validation: profile.requireValidation,
          code: plan.code,
          notify: plan.notifyBy,
          ...(req.replaces && { replaces: req.replaces }),
          ...(derived && { derived }),
        },
      });
    });
    this.deps.log.info({ mobileId: id, userId: person.id, credentialProfile: profile.name }, 'mobile ID requested');
    if (citrixWarning) this.deps.log.warn({ mobileId: id, userId: person.id }, citrixWarning);
    const created = (await this.deps.mobileIds.get(id))!;
    const issued = code
      ? await this.handOut(created, person, profile, code, plan, req.qr === true)
      : { mobileId: this.view(created, person), link: this.deps.notifications.link(id), notifications: [] };
    return citrixWarning ? { ...issued, warnings: [citrixWarning] } : issued;
  }

  /** A second person approves: the code is made now and goes where the plan says (to the validator when on screen). */
  async validate(caller: Caller, id: string, opts: { notify?: NotifyChoice; qr?: boolean } = {}): Promise<IssuedCode> {
    const me = await this.rolesOf(caller);
    const m = await this.deps.mobileIds.get(id, this.deps.db, me.filter);
    if (!m) throw new IdentityError('not_found', `no mobile ID request ${id}`);
    const profile = this.deps.profiles[m.credentialProfile];
    if (!profile) throw new IdentityError('conflict', `credential profile "${m.credentialProfile}" is no longer configured; cancel this request`);
    if (m.status !== 'awaiting-validation')
      throw new IdentityError('conflict', `request ${id} is ${m.status}; only requests awaiting validation can be validated`);
    if (m.expiresAt <= Date.now()) throw new IdentityError('gone', `request ${id} has expired; request a new one`);
    const { roles, person: validator } = me;
    if (!mayAct(profile, 'validate', roles))
      throw new IdentityError('forbidden', `${caller.name} may not validate "${profile.name}" requests (roles: ${profile.roles.validate.join(', ')})`);
    const requester = m.requestedBy.slice(m.requestedBy.indexOf(':') + 1);
    if (requester === caller.name || (validator && (await this.deps.people.byUserName(requester))?.id === validator.id)) {
      throw new IdentityError('forbidden', 'the requester cannot validate their own request; another person with the validate role must');
    }
    const person = (await this.deps.people.get(m.userId))!;
    const plan = this.deps.notifications.plan(person, opts.notify);
    const code = generateCode(codeLength(profile.otpComplexity));
    await this.deps.db.transaction(async (trx) => {
      const moved = await this.deps.mobileIds.transition(trx, id, ['awaiting-validation'], 'ready', {
        codeDigest: this.deps.mac.digest(CODE_PURPOSE, id, code),
        validatedBy: caller.actor,
      });
      if (!moved) throw new IdentityError('conflict', `request ${id} was changed meanwhile`);
      await this.deps.audit.append(trx, {
        actor: caller.actor,
        action: 'mobile-id.validate',
        subjectType: 'mobile-id',
        subjectId: id,
        detail: { code: plan.code, notify: plan.notifyBy },
      });
    });
    return this.handOut((await this.deps.mobileIds.get(id))!, person, profile, code, plan, opts.qr === true);
  }

  /** A person by id or user name, if the viewer's scope reaches them. */
  async person(ref: string, viewer: Caller): Promise<Person | undefined> {
    return this.deps.people.find(ref, this.deps.db, await this.deps.scope.filter(viewer));
  }

  /** A mobile ID, if the viewer's scope reaches its holder. */
  async get(id: string, viewer: Caller): Promise<MobileIdView | undefined> {
    const m = await this.deps.mobileIds.get(id, this.deps.db, await this.deps.scope.filter(viewer));
    return m && this.view(m, await this.deps.people.get(m.userId));
  }

  /** Mobile IDs of the people the viewer's scope reaches, filtered in SQL so `limit` counts visible ones. */
  async list(filter: Parameters<MobileIdRepository['list']>[0], viewer: Caller): Promise<MobileIdView[]> {
    const list = await this.deps.mobileIds.list(filter, await this.deps.scope.filter(viewer));
    return Promise.all(list.map(async (m) => this.view(m, await this.deps.people.get(m.userId))));
  }

  view(m: MobileId, person: Person | undefined): MobileIdView {
    const open = m.status === 'awaiting-validation' || m.status === 'ready';
    return { ...m, status: open && m.expiresAt <= Date.now() ? 'expired' : m.status, userName: person?.userName ?? null };
  }

  private async handOut(m: MobileId, person: Person, profile: MobileProfile, code: string, plan: DeliveryPlan, qr: boolean): Promise<IssuedCode> {
    const notifications = await this.deps.notifications.send(plan, { person, profile: profile.name, requestId: m.id, expiresAt: m.expiresAt }, code);
    const onScreen = plan.code === 'screen';
    const link = this.deps.notifications.link(m.id, onScreen ? code : undefined);
    return {
      mobileId: this.view(m, person),
      ...(onScreen && { code }),
      link,
      ...(qr && { qr: { png: (await qrPng(link)).toString('base64'), svg: await qrSvg(link) } }),
      notifications,
    };
  }

  private chooseProfile(person: Person, requesterRoles: string[], name: string | undefined, derived: boolean): MobileProfile {
    const receivable = (p: MobileProfile) =>
      collectable(p) && isDerived(p) === derived && mayAct(p, 'receive', person.roles) && mayAct(p, 'collect', person.roles);
    if (name !== undefined) {
      const p = this.deps.profiles[name];
      if (!p) throw new IdentityError('bad_request', `no credential profile "${name}"; configured: ${Object.keys(this.deps.profiles).join(', ') || 'none'}`);
      if (!collectable(p))
        throw new IdentityError('bad_request', `credential profile "${name}" is a ${p.encoding} profile, not one the Identity Agent collects`);
      if (isDerived(p) && !derived)
        throw new IdentityError(
          'bad_request',
          `credential profile "${name}" is for derived credentials: the holder requests one with their PIV card at /derived/`,
        );
      if (!isDerived(p) && derived)
        throw new IdentityError('bad_request', `credential profile "${name}" is not a derived-credential profile (encoding derived-credential)`);
      if (!mayAct(p, 'request', requesterRoles))
        throw new IdentityError('forbidden', `you may not request "${name}" (roles that may: ${p.roles.request.join(', ')})`);
      if (!receivable(p))
        throw new IdentityError(
          'bad_request',
          `${MYID_REFUSALS.noProfile} ${person.userName} lacks a role that may receive and collect "${name}" (receive: ${p.roles.receive.join(', ')}; collect: ${p.roles.collect.join(', ')}).`,
        );
      return p;
    }
    const fits = Object.values(this.deps.profiles).filter((p) => receivable(p) && mayAct(p, 'request', requesterRoles));
    if (fits.length === 0) throw new IdentityError('bad_request', `${MYID_REFUSALS.noProfile} ${PROFILE_HINT}`);
    if (fits.length > 1) throw new IdentityError('bad_request', `choose credentialProfile: one of ${fits.map((p) => p.name).join(', ')}`);
    return fits[0]!;
  }

  /**
   * The user's data must fill every certificate's names now, not fail on the
   * phone later; and a profile of historic certificates only is useless to
   * someone who has none.
   */
  private async checkCertificates(person: Person, profile: MobileProfile): Promise<void> {
    // The device is not known yet: stand-ins show only what the user data lacks.
    const data = templateData(person, { id: 'x', serial: 'x', platform: 'other', model: 'x', osVersion: 'x' });
    // A certificate issued elsewhere cannot be made here: the person must have a valid upload for each such slot.
    for (const c of profile.certificates) {
      if (c.unmanaged === undefined || (await this.deps.unmanaged.has(person.id, c.unmanaged))) continue;
      throw new IdentityError(
        'bad_request',
        `${MYID_REFUSALS.noCertificates} "${profile.name}" delivers ${person.userName}'s ${c.unmanaged} certificate issued elsewhere, and ${person.userName} has no valid one uploaded; an administrator uploads it with POST /api/v1/users/{user}/certificates or \`credgate certificates import\`.`,
      );
    }
    for (const c of profile.certificates) {
      if (c.template === undefined || c.historic === 'historic-only') continue;
      try {
        renderNames(c.template, this.deps.templates[c.template]!, data);
      } catch (err) {
        if (err instanceof TemplateError)
          throw new IdentityError('bad_request', `${person.userName}'s record cannot fill the "${c.template}" certificate: ${err.message}`);
        throw err;
      }
    }
    if (!profile.certificates.every((c) => c.template !== undefined && c.historic === 'historic-only')) return;
    for (const c of profile.certificates) {
      if (c.template === undefined) continue;
      const old = await this.deps.certificates.list({ userId: person.id, template: c.template, limit: 1000 });
      if (old.some((o) => o.keyEscrowed && o.status !== 'revoked')) return;
    }
    throw new IdentityError(
      'bad_request',
      `${MYID_REFUSALS.noCertificates} "${profile.name}" delivers only earlier certificates, and ${person.userName} has none with an escrowed key.`,
    );
  }
}
