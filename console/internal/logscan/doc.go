// Package logscan is the console's part of the security suite's log scan (README "Security suite"): its
// test runs the real console binary at debug level through the Connect API, the webhook and sync workers
// and a backfill against the provider simulator, then searches everything the process printed for every
// secret value the run handled. The package has no code of its own.
package logscan
