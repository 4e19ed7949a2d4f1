// Command vela-core is KubeVela's controller of v1.10.9, unchanged, built
// from the Go module proxy for the compatibility run (make test-compat).
package main

import (
	"os"

	"github.com/oam-dev/kubevela/cmd/core/app"
)

func main() {
	if err := app.NewCoreCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
