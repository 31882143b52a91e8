// Package conventions holds the tests that read the whole repository and check that what the
// documents say matches what the code does: the configuration tables of the READMEs against
// the variables the services read, the scopes each service requires against those identity
// can grant, and each service's default listen address against its port in
// services/services.tsv. It has no code of its own.
package conventions
