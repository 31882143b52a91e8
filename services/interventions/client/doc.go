// Package client is the Go client of the interventions service for the cooperatives' own
// systems: the one public client of the CSI suite. It depends on the standard library only.
//
// A cooperative's system authenticates as a machine client (OAuth2 client credentials against
// the identity service's token endpoint); the client gets the token, keeps it while it is
// valid, gets a new one a little before it expires, and once more when the service answers
// 401. Through it the system reads the authorizations assigned to its cooperative, records
// the visits its operators made (one by one or in batches of any size), corrects them, and
// reads and submits its monthly statement.
//
// # Retries and idempotency
//
// Every request that changes something carries an Idempotency-Key, generated once per call and
// sent again, unchanged, on each retry of that call: the service then stores nothing twice and
// answers a retry as it answered the first time (the statement's transitions excepted: the
// service does not key them, see SubmitStatement). The client retries by itself, with
// exponential backoff and jitter, honouring Retry-After, when the network fails (a
// timeout, a reset connection, a response lost on the way) and when the service answers 408,
// 429, 502, 503 or 504, or 409 with Retry-After (the first request with the same key is still
// running). It never retries a refusal of the rules (400, 403, 404, 409, 412, 422…): those
// come back as a *Problem.
//
// PostVisits splits a batch into calls of at most MaxBatch visits, each with its own key
// (derived from the batch's key: pass IdempotencyKey to choose it, so that a process that
// crashed mid-batch can send the same batch again with the same key and store nothing twice).
//
// # Errors
//
// A refusal of the service is a *Problem, the RFC 9457 problem details the service answers,
// with its "code" (e.g. "overlap", "outside_period", "month_locked") and the fields it names.
// errors.Is tells its kind with the sentinel errors (ErrUnauthorized, ErrForbidden,
// ErrNotFound, ErrConflict, ErrInvalid, ErrPreconditionFailed, ErrUnavailable); errors.As
// gives the details:
//
//	v, err := c.PostVisit(ctx, in)
//	var p *client.Problem
//	switch {
//	case errors.As(err, &p) && p.Code == "overlap":
//		// the operator has another visit at that time
//	case errors.Is(err, client.ErrForbidden):
//		// the client lacks the scope visits:write, or the authorization is another cooperative's
//	}
//
// In a batch, each visit refused has its own *Problem in its BatchItem; the call itself
// succeeds.
package client
