package render

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// replaced are tests of the linked files that this module runs in another
// form (see cue09_test.go).
const replaced = "^TestTraitGolden$"

func TestMain(m *testing.M) {
	flag.Parse()
	// The golden files are written by the main module's tests (CUE v0.14);
	// a rendering of v0.9 must never overwrite them.
	if *update {
		fmt.Fprintln(os.Stderr, "cue09: -update is not allowed here; run go test ./test/render/ -update in the main module")
		os.Exit(2)
	}
	// definition_test.go's default is relative to test/render.
	if !flagSet("definitions") {
		_ = flag.Set("definitions", "../../../definitions")
	}
	skip := replaced
	if s := flag.Lookup("test.skip").Value.String(); s != "" {
		skip = s + "|" + replaced
	}
	_ = flag.Set("test.skip", skip)
	os.Exit(m.Run())
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
