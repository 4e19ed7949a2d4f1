package main

import (
	"fmt"
	"io"
	"os"

	"google.golang.org/grpc/grpclog"
	istiolog "istio.io/istio/pkg/log"
)

// configureLogs sends Istio's logs (and klog's and the standard library's,
// which Istio's log package captures) and grpc-go's to stderr, and only when
// verbose: run outside istiod, Istio logs errors and warnings that are about
// its test fixture, not the objects (CRD annotations of the fake API server,
// a client that is no pod), and the probe's own findings are its answer.
func configureLogs(verbose bool) {
	o := istiolog.DefaultOptions()
	o.OutputPaths = []string{"stderr"}
	o.ErrorOutputPaths = []string{"stderr"}
	level := istiolog.NoneLevel
	if verbose {
		level = istiolog.InfoLevel
	}
	o.SetDefaultOutputLevel(istiolog.DefaultScopeName, level)
	for _, s := range istiolog.Scopes() {
		s.SetOutputLevel(level)
	}
	if err := istiolog.Configure(o); err != nil {
		// Logging is not the probe's answer: go on with Istio's defaults.
		fmt.Fprintln(os.Stderr, "meshprobe: configuring Istio's logs:", err)
	}
	if verbose {
		grpclog.SetLoggerV2(grpclog.NewLoggerV2(os.Stderr, os.Stderr, os.Stderr))
	} else {
		grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
	}
}
