// Package containers tests the FROM-scratch images (packaging/docker) and
// the compose project (packaging/compose) against a real Docker engine: a
// three-node bootstrap_expect hub cluster and two agents that enroll with
// tokens, all on the project's private network.
//
// The tests skip when docker, its daemon, make or a compose implementation
// (`docker compose` or `docker-compose`) is missing, and under -short. Every
// run uses its own image tag and compose project and removes both.
package containers
