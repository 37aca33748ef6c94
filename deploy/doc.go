// Package deploy holds no code: it is the compose stack for operators
// (compose.yaml, Dockerfile, nats/, setup/, README.md) and the tests that
// check it without a Docker engine. See README.md.
package deploy
