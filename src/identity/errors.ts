/** A refusal of the identity services (src/identity), told to the operator or mobile app with what to fix. */
import { Refusal } from '../util/refusal.js';

export class IdentityError extends Refusal {}
