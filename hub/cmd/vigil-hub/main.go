// Command vigil-hub runs and administers a Vigil hub node.
package main

import (
	"os"

	"github.com/vigil-sec/vigil/hub/command"
)

func main() {
	os.Exit(command.Main(os.Args[1:], command.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
}
