// Package sdk is what a parser author imports: the normalized Event type that
// every parser fills, and the Parser interface that built-in (in-process)
// parsers implement.
//
// Field names follow the Elastic Common Schema (ECS) so that Sigma mappings and
// users' habits carry over. The package never performs I/O, never imports agent
// or hub code, and must stay small enough to be a stable, versioned surface.
package sdk
