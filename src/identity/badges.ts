/**
 * The badges a mobile ID carries: for each layout its credential profile
 * lists (credentialProfiles.<name>.badges), the layout filled from the
 * person record, their photo and the mobile ID, as structured data and as a
 * rendered PNG (badge-render.ts). The profile's default layout comes first
 * and is marked: the app shows it first and uses it for identity checks
 * from phone to phone.
 */
import type { BadgeField } from '../config/badges.js';
import type { Person } from '../store/people.js';
import { badgeData, badgeImages, renderBadge, type BadgeData, type BadgeImage, type BadgeValues, type PreparedLayout } from './badge-render.js';
import type { MobileProfile } from './profiles.js';

export interface Badge extends BadgeData {
  default: boolean;
  /** The rendered badge: a PNG, base64. */
  png: string;
}

export interface BadgeContext {
  mobileId: string | null;
  /** When the mobile ID's certificates expire (epoch ms), if known. */
  expires: number | null;
}

/** The values of the fields a layout may show. */
export function badgeFields(person: Person, ctx: BadgeContext): Record<BadgeField, string | null> {
  return {
    displayName: person.displayName,
    userName: person.userName,
    title: person.title,
    group: person.groups[0] ?? null,
    groups: person.groups.length ? person.groups.join(', ') : null,
    email: person.email,
    upn: person.upn,
    userId: person.id,
    mobileId: ctx.mobileId,
    expires: ctx.expires === null ? null : new Date(ctx.expires).toISOString().slice(0, 10),
  };
}

export class Badges {
  constructor(
    private readonly deps: {
      layouts: Record<string, PreparedLayout>;
      photoOf(userId: string): Promise<BadgeImage | undefined>;
    },
  ) {}

  layoutNames(): string[] {
    return Object.keys(this.deps.layouts);
  }

  layout(name: string): PreparedLayout | undefined {
    return Object.hasOwn(this.deps.layouts, name) ? this.deps.layouts[name] : undefined;
  }

  /** The badges of the profile, default first; none when the profile names no layouts. */
  async forProfile(profile: Pick<MobileProfile, 'badges'>, person: Person, ctx: BadgeContext): Promise<Badge[]> {
    const chosen = profile.badges;
    if (!chosen) return [];
    const preferred = chosen.default ?? chosen.layouts[0]!;
    const order = [preferred, ...chosen.layouts.filter((l) => l !== preferred)];
    const values = await this.values(person, ctx);
    const out: Badge[] = [];
    for (const name of order) {
      const layout = this.layout(name);
      // Start-up refuses profiles naming unknown layouts (src/app/badges.ts).
      if (!layout) throw new Error(`badge layout ${name} is not configured`);
      out.push({ ...(await this.render(layout, values)), default: name === preferred });
    }
    return out;
  }

  /** One layout filled for a person, as a mobile ID would carry it (for operators to check a layout). */
  async preview(layout: PreparedLayout, person: Person, ctx: BadgeContext): Promise<{ data: BadgeData; png: Buffer }> {
    const values = await this.values(person, ctx);
    const data = badgeData(layout, values);
    return { data, png: await renderBadge(data, badgeImages(layout, values)) };
  }

  private async values(person: Person, ctx: BadgeContext): Promise<BadgeValues> {
    return { fields: badgeFields(person, ctx), photo: (await this.deps.photoOf(person.id)) ?? null };
  }

  private async render(layout: PreparedLayout, values: BadgeValues): Promise<BadgeData & { png: string }> {
    const data = badgeData(layout, values);
    const png = await renderBadge(data, badgeImages(layout, values));
    return { ...data, png: png.toString('base64') };
  }
}
