// Command telemetry serves fake Istio request metrics for `make demo`: the
// local control plane has no sidecars, so this stands in for what they
// would report to Prometheus (test/istiometrics). The demo sets each
// version's traffic over HTTP:
//
//	go run ./hack/telemetry --address-file=.cluster/telemetry.addr &
//	curl -X POST 'http://ADDR/set?namespace=default&app=reviews&version=v2&rps=20&errorShare=0.5&latencyMs=30'
//
// Prometheus scrapes ADDR/metrics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/istio-canary/istio-canary/test/istiometrics"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve /metrics and /set on")
	addressFile := flag.String("address-file", "", "write the address served on to this file")
	flag.Parse()
	if err := run(*listen, *addressFile); err != nil {
		fmt.Fprintln(os.Stderr, "telemetry:", err)
		os.Exit(1)
	}
}

func run(listen, addressFile string) error {
	exp := istiometrics.New()
	mux := http.NewServeMux()
	mux.Handle("/metrics", exp.Handler())
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		target, traffic, err := parse(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		exp.Set(target, traffic)
		fmt.Fprintf(w, "%s/%s %s: %+v\n", target.Namespace, target.App, target.Version, traffic)
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if addressFile != "" {
		if err := os.WriteFile(addressFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parse reads a target and its traffic from the query; the exporter's
// bounds are checked here so that a bad request gets a 400, not a panic.
func parse(r *http.Request) (istiometrics.Target, istiometrics.Traffic, error) {
	q := r.URL.Query()
	t := istiometrics.Target{Namespace: q.Get("namespace"), App: q.Get("app"), Version: q.Get("version")}
	if t.Namespace == "" || t.App == "" || t.Version == "" {
		return t, istiometrics.Traffic{}, errors.New("namespace, app and version are required")
	}
	num := func(name string) (float64, error) {
		s := q.Get(name)
		if s == "" {
			return 0, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("%s: %q is not a number >= 0", name, s)
		}
		return v, nil
	}
	var tr istiometrics.Traffic
	var err error
	if tr.RPS, err = num("rps"); err != nil {
		return t, tr, err
	}
	if tr.ErrorShare, err = num("errorShare"); err != nil {
		return t, tr, err
	}
	if tr.ErrorShare > 1 {
		return t, tr, fmt.Errorf("errorShare: %v is not a fraction from 0 to 1", tr.ErrorShare)
	}
	if tr.LatencyMs, err = num("latencyMs"); err != nil {
		return t, tr, err
	}
	return t, tr, nil
}
