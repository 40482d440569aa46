// Package e2e holds Pitstop's end-to-end tests: each brings up the real local lab (nginx, PostgreSQL 15
// primary and streaming standby, the demo application, optionally sshd), puts it under load with
// lab.StartLoad, and drives a built-in plan through the real adapters (live.OpenLocked, as pitstop run does) with the engine,
// then checks what users saw and what the databases hold. The package has no code of its own.
package e2e
