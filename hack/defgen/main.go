// Command defgen fills the generated blocks of definitions/*.cue from
// internal/defgen/fragments: `make generate`.
//
//	go run ./hack/defgen [-root DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

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
	paths := make([]string, 0, len(stale))
	for p := range stale {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := os.WriteFile(filepath.Join(*root, p), stale[p], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "defgen:", err)
			os.Exit(1)
		}
		fmt.Println("defgen: wrote", p)
	}
	if len(paths) == 0 {
		fmt.Println("defgen: definitions are up to date")
	}
}
