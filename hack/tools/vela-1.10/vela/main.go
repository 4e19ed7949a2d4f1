// Command vela is KubeVela's CLI, set up as its upstream main of v1.10.9
// does, built from the Go module proxy for the compatibility run (make
// test-compat).
package main

import (
	"os"

	utilfeature "k8s.io/apiserver/pkg/util/feature"

	"github.com/oam-dev/kubevela/pkg/utils/system"
	"github.com/oam-dev/kubevela/references/a/preimport"
	"github.com/oam-dev/kubevela/references/cli"
)

func main() {
	preimport.ResumeLogging()
	_ = utilfeature.DefaultMutableFeatureGate.Set("AllAlpha=true")
	system.BindEnvironmentVariables()
	if err := cli.NewCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
