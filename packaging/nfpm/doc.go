// Package nfpm holds the nfpm configurations of the vigil-agent and
// vigil-hub .deb and .rpm packages (vigil-agent.yaml, vigil-hub.yaml), the
// files they install, their maintainer scripts (scripts/) and version.sh, and
// the tests that build the packages and check them. It has no Go code of its
// own: `make packages` builds the packages, packaging/README.md describes
// them.
package nfpm
