// Command defgen writes the generated CUE files (`make generate`): the
// canary steps from internal/defgen/steps, the provider's schema into them
// and into resources/schema.cue, and the fragments of internal/defgen into
// the blocks of definitions/*.cue. See package internal/defgen.
//
//	go run ./hack/defgen [-root DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/istio-canary/istio-canary/internal/defgen"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	stale, err := defgen.Generate(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "defgen:", err)
		os.Exit(1)
	}
	for _, p := range defgen.Paths(stale) {
		if err := os.WriteFile(filepath.Join(*root, filepath.FromSlash(p)), stale[p], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "defgen:", err)
			os.Exit(1)
		}
		fmt.Println("defgen: wrote", p)
	}
	if len(stale) == 0 {
		fmt.Println("defgen: generated files are up to date")
	}
}
