// Package clienttest runs the interventions client (services/interventions/client) against the
// running services: the real identity service (its token endpoint) and the real interventions
// service, both built from the checkout and started by identitytest on fresh databases of the
// test PostgreSQL server, with a reverse proxy between the client and interventions that can
// lose an answer after interventions processed the request, or refuse a token. The tests live
// here, in tools, because they need both services and a service's module never depends on
// another service's; the services run as their binaries, as make run starts them, because the
// tools never import a service's adapters (csideps).
package clienttest
