package interventions

// SetBeforeInsert makes every request run fn after its overlap query and before its insert
// (the overlap race test holds two requests there); it returns the function that removes it.
func SetBeforeInsert(fn func()) (restore func()) {
	beforeInsert = fn
	return func() { beforeInsert = nil }
}
