/**
 * The mutating operations (`METHOD path`, OpenAPI path syntax) that do not honour `Idempotency-Key`,
 * each with why. Every other POST, PUT, PATCH and DELETE runs under `idempotent` (idempotent.ts); the
 * OpenAPI document declares the header on exactly those, and test/api/rest/idempotency-coverage.test.ts checks
 * both against the served document, so a new route that forgets it fails there.
 */
export const NOT_IDEMPOTENT: Readonly<Record<string, string>> = {
  // A heartbeat answers the attachments the node should hold *now*, with their fencing tokens and the
  // pools' node-scoped secrets. Replaying an older answer would hand the agent stale fencing state (and
  // keep secrets in the key store); renewing a lease twice is harmless, so a repeat simply runs again.
  'POST /v1/nodes/{id}/heartbeat': 'answers the current leases; a replay would be stale',
  // Reads only (a POST for its body): nothing to make idempotent, and the answer must be current.
  'POST /v1/placement/explain': 'changes nothing',
};

/** The methods that change something (GET and HEAD never do). */
export const MUTATING_METHODS: readonly string[] = ['post', 'put', 'patch', 'delete'];
