// Command vigil-agent collects logs on a branch host and ships them to a hub.
package main

import (
	"os"

	"github.com/vigil-sec/vigil/agent/command"
)

func main() {
	os.Exit(command.Main(os.Args[1:], command.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}
