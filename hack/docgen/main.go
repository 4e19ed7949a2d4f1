// Command docgen writes the reference section of README.md (every definition
// and parameter, from the definitions' `// +usage=` comments): `make docs`.
//
//	go run ./hack/docgen [-root DIR] [-stdout]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/istio-canary/istio-canary/internal/docgen"
)

func main() {
	root := flag.String("root", ".", "repository root")
	stdout := flag.Bool("stdout", false, "print the section instead of writing README.md")
	flag.Parse()
	if *stdout {
		generated, err := docgen.Generate(*root)
		if err != nil {
			fmt.Fprintln(os.Stderr, "docgen:", err)
			os.Exit(1)
		}
		fmt.Print(generated)
		return
	}
	changed, err := docgen.UpdateReadme(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
	if changed {
		fmt.Println("docgen: README.md reference section updated")
		return
	}
	fmt.Println("docgen: README.md reference section is up to date")
}
