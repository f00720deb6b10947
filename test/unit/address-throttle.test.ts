/** The per-address throttle (HTTP Basic, Identity Agent session starts): its allowance per window, the window's end, and its bound on memory. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressThrottle } from '../../src/http/address-throttle.js';

test('an address is refused after its allowance of failures until the window ends; others are not', () => {
  let now = 1_000_000;
  const t = new AddressThrottle(3, 60_000, 100, () => now);
  assert.deepEqual([t.fail('a'), t.fail('a')], [false, false]);
  assert.equal(t.retryAfter('a'), 0, 'two of three');
  assert.equal(t.fail('a'), true, 'the third uses it up');
  assert.equal(t.retryAfter('a'), 60);
  assert.equal(t.retryAfter('b'), 0);
  now += 45_500;
  assert.equal(t.retryAfter('a'), 15, 'rounded up to whole seconds');
  now += 14_500;
  assert.equal(t.retryAfter('a'), 0, 'the window is over');
  assert.equal(t.fail('a'), false, 'a new window starts with one failure');
});

test('addresses past the capacity push out the oldest, so memory stays bounded', () => {
  const now = 5_000;
  const t = new AddressThrottle(1, 60_000, 2, () => now);
  t.fail('first');
  t.fail('second');
  assert.ok(t.retryAfter('first') > 0);
  t.fail('third');
  assert.equal(t.retryAfter('first'), 0, 'forgotten');
  assert.ok(t.retryAfter('second') > 0 && t.retryAfter('third') > 0);
});
