// Package faults is the fault-injection suite (`make faults`, build tag faults) and the end-to-end
// pipeline benchmarks (`make bench`, build tag loadtest). Its tests build and run the real gateway and
// console binaries on loopback against a fresh database, a private redis-server and, where Postgres has to
// disappear, a TCP proxy in front of it; they talk to the services only over HTTP (webhooks signed as
// GitHub signs them, the admin API) and read the database to count. The package imports neither
// service's internals, so it can orchestrate both; it has no code of its own.
package faults
