/** The mass-unenrollment brake pollers share (Intune, XenMobile). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { unenrollGuardSchema, unenrollRefusal } from '../../src/connectors/unenroll-guard.js';

describe('unenroll guard', () => {
  const defaults = unenrollGuardSchema.parse(undefined);

  test('defaults: a quarter of the fleet, and always up to ten devices', () => {
    assert.deepEqual(defaults, { maxFraction: 0.25, atLeast: 10 });
    assert.equal(unenrollRefusal(10, 10, defaults, 'polling.unenrollGuard'), undefined, 'a small fleet may leave whole');
    assert.equal(unenrollRefusal(250, 1000, defaults, 'polling.unenrollGuard'), undefined, 'a quarter may leave');
    assert.match(
      unenrollRefusal(251, 1000, defaults, 'polling.unenrollGuard')!,
      /^251 of 1000 known devices left.*none was unenrolled.*raise polling\.unenrollGuard\.maxFraction/,
    );
    assert.ok(unenrollRefusal(1000, 1000, defaults, 'x'), 'an empty listing of a large fleet is held');
  });

  test('maxFraction 1 turns the brake off', () => {
    assert.equal(unenrollRefusal(1000, 1000, { maxFraction: 1, atLeast: 0 }, 'x'), undefined);
  });

  test('out-of-range settings are refused', () => {
    assert.throws(() => unenrollGuardSchema.parse({ maxFraction: 1.5 }));
    assert.throws(() => unenrollGuardSchema.parse({ atLeast: -1 }));
  });
});
