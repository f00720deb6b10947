/**
 * A brake on mass unenrollment by pollers. A device listing that comes back
 * empty or short (a changed API permission or scope tag, a vendor outage
 * answered with 200) would otherwise revoke the signing certificate of every
 * device at once. When more devices would leave in one poll than the guard
 * allows, none of them is unenrolled: the poller logs an error saying how to
 * proceed and looks again next time.
 */
import { z } from 'zod';

export const unenrollGuardSchema = z
  .strictObject({
    maxFraction: z.number().min(0).max(1).default(0.25).describe('Largest share of the known devices one poll may unenroll; 1 turns the guard off.'),
    atLeast: z.number().int().min(0).default(10).describe('Departures up to this many are always allowed, whatever their share (small fleets).'),
  })
  .prefault({})
  .describe('Mass-unenrollment brake: more departures in one poll than this are held back until an operator raises the limit.');

export type UnenrollGuard = z.infer<typeof unenrollGuardSchema>;

/** Why `departing` of `known` devices may not be unenrolled at once, or undefined when they may. */
export function unenrollRefusal(departing: number, known: number, guard: UnenrollGuard, setting: string): string | undefined {
  if (departing <= guard.atLeast || departing <= guard.maxFraction * known) return undefined;
  return `${departing} of ${known} known devices left in one listing, more than ${setting} allows (maxFraction ${guard.maxFraction}, atLeast ${guard.atLeast}); none was unenrolled. If they really left, raise ${setting}.maxFraction (1 turns the brake off) and the next poll unenrolls them`;
}
