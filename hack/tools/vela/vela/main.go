// Command vela is KubeVela's CLI, set up as its upstream main does, built from
// the Go module proxy for the local control plane.
package main

import (
	"os"

	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/rest"

	"github.com/oam-dev/kubevela/pkg/utils/system"
	"github.com/oam-dev/kubevela/references/a/preimport"
	"github.com/oam-dev/kubevela/references/cli"
)

func main() {
	preimport.ResumeLogging()
	_ = utilfeature.DefaultMutableFeatureGate.Set("AllAlpha=true")
	system.BindEnvironmentVariables()
	rest.SetDefaultWarningHandler(rest.NewWarningWriter(os.Stderr, rest.WarningWriterOptions{Deduplicate: true}))
	if err := cli.NewCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
