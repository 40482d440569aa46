// Package rundeck talks to Rundeck: a client for the parts of its HTTP API Pitstop uses (run a job,
// follow its log, abort it), the runner that lets an upgrade or migrate command be a Rundeck job,
// and the export of a Pitstop plan as a Rundeck job definition.
package rundeck
