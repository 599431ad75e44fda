// Command k6 is k6 with netlab's extensions compiled in: exactly the main package xk6 generates
// (go.k6.io/k6/cmd plus blank imports), written by hand because the Go module proxy here does not
// serve xk6 or the community TCP extensions (load/k6/README.md, DECISIONS.md).
package main

import (
	"go.k6.io/k6/cmd"

	_ "netlab.local/k6/tcp"
)

func main() {
	cmd.Execute()
}
