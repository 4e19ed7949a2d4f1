// Command vela-core is KubeVela's controller, unchanged, built from the Go
// module proxy for the local control plane.
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
