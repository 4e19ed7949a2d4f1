// Command registry makes a directory of addon packages (the .tgz files
// `vela addon package` writes) a Helm repository, the kind of addon
// registry `vela addon registry add NAME --type helm --endpoint URL` reads:
//
//	go run ./hack/registry index DIR
//	    write DIR/index.yaml, one entry per DIR/*.tgz
//	go run ./hack/registry serve [--listen=127.0.0.1:0] [--address-file=F] DIR
//	    serve DIR over HTTP (index.yaml and the packages) until stopped
//
// vela reads index.yaml, picks the newest version of the addon that is not a
// prerelease, and downloads the package from the entry's URL; a relative URL
// is joined to the registry's endpoint, so that DIR can be served from
// anywhere. hack/addon.sh enables the addon this way from 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: registry index DIR | registry serve [--listen=ADDR] [--address-file=F] DIR")
	}
	switch args[0] {
	case "index":
		if len(args) != 2 {
			return errors.New("usage: registry index DIR")
		}
		return writeIndex(args[1])
	case "serve":
		flags := flag.NewFlagSet("serve", flag.ContinueOnError)
		listen := flags.String("listen", "127.0.0.1:0", "address to serve on")
		addressFile := flags.String("address-file", "", "write the address served on to this file once it serves")
		if err := flags.Parse(args[1:]); err != nil {
			return err
		}
		if flags.NArg() != 1 {
			return errors.New("usage: registry serve [--listen=ADDR] [--address-file=F] DIR")
		}
		return serve(flags.Arg(0), *listen, *addressFile)
	default:
		return fmt.Errorf("unknown command %q (want index or serve)", args[0])
	}
}

// writeIndex writes DIR/index.yaml through a temporary file, so that a
// server reading the directory never serves half an index.
func writeIndex(dir string) error {
	index, err := buildIndex(dir)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".index.yaml.tmp")
	if err := os.WriteFile(tmp, index, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "index.yaml"))
}

// serve serves dir as it is on disk: hack/addon.sh writes a new package and
// index there while the server runs, and the next `vela addon enable` reads
// them.
func serve(dir, listen, addressFile string) error {
	if _, err := os.Stat(filepath.Join(dir, "index.yaml")); err != nil {
		return fmt.Errorf("%s is not a Helm repository (run: registry index %s): %w", dir, dir, err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(dir), ReadHeaderTimeout: 10 * time.Second}
	if addressFile != "" {
		// Written after Listen, so a reader of the file can connect at once.
		if err := os.WriteFile(addressFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	log.Printf("serving %s on http://%s", dir, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler serves the files of dir, logging one line per request: the log
// shows which package a `vela addon enable` downloaded.
func handler(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.Method, r.URL.Path)
		files.ServeHTTP(w, r)
	})
}
