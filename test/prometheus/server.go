package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// Config says how to start a server.
type Config struct {
	// Binary is the prometheus binary; empty means Binary().
	Binary string
	// Dir receives the config, the targets file, the storage and the log;
	// it must exist. The server does not remove it.
	Dir string
	// Targets are the host:port addresses scraped from the start, at
	// /metrics; SetTargets changes them.
	Targets []string
}

// DefaultStartTimeout bounds Start when its context has no deadline.
const DefaultStartTimeout = 30 * time.Second

// Server is a running prometheus process.
type Server struct {
	address     string
	targetsFile string
	logPath     string
	api         v1.API

	proc *process
}

// process is one run of the binary; a port taken under it means another.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	stop   sync.Once
}

// Start starts prometheus and waits until it is ready (/-/ready), within
// ctx's deadline; that takes well under a second. Scrapes and rule
// evaluation run every second, so that a rate() over a window of 10 s has
// ten samples. Prometheus applies its targets on a 5 s tick, so the first
// scrape comes some 6 s after the start: wait for data with WaitForTarget
// or WaitForQuery, not for a fixed time.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Binary == "" {
		bin, err := Binary()
		if err != nil {
			return nil, err
		}
		cfg.Binary = bin
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	s := &Server{
		targetsFile: filepath.Join(cfg.Dir, "targets.json"),
		logPath:     filepath.Join(cfg.Dir, "prometheus.log"),
	}
	if err := s.SetTargets(cfg.Targets...); err != nil {
		return nil, err
	}
	configFile := filepath.Join(cfg.Dir, "prometheus.yml")
	if err := os.WriteFile(configFile, ConfigFor(s.targetsFile), 0o644); err != nil {
		return nil, fmt.Errorf("write the prometheus config: %w", err)
	}
	// The free port is only free until prometheus binds it; another
	// process may take it first, then a next port is tried.
	for attempt := 1; ; attempt++ {
		err := s.launch(ctx, cfg.Binary, configFile, filepath.Join(cfg.Dir, "data"))
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return nil, err
		}
	}
}

// ConfigFor is a prometheus config that scrapes the targets of the file
// every second. The file is also re-read every second, in case inotify
// misses a change (file_sd's watch).
func ConfigFor(targetsFile string) []byte {
	quoted, _ := json.Marshal(targetsFile) // a JSON string is a YAML string
	return []byte(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: test
    file_sd_configs:
      - files: [` + string(quoted) + `]
        refresh_interval: 1s
`)
}

var errPortTaken = errors.New("the port was taken before prometheus could bind it")

func (s *Server) launch(ctx context.Context, binary, configFile, storage string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.address = fmt.Sprintf("http://127.0.0.1:%d", port)
	client, err := api.NewClient(api.Config{Address: s.address})
	if err != nil {
		return err
	}
	s.api = v1.NewAPI(client)

	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open the prometheus log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	args := []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + storage,
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
	}
	fmt.Fprintf(logFile, "### %s %s %s\n", time.Now().Format(time.RFC3339), binary, strings.Join(args, " "))
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A test binary that dies (a timeout panic, a kill) takes prometheus along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", binary, err)
	}
	s.proc = &process{cmd: cmd, exited: make(chan struct{})}
	go func(p *process) {
		_ = p.cmd.Wait()
		close(p.exited)
	}(s.proc)
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		if strings.Contains(s.logTail(10), "address already in use") {
			return errPortTaken
		}
		return fmt.Errorf("%w; the end of its log (%s):\n%s", err, s.logPath, s.logTail(20))
	}
	return nil
}

// waitReady polls /-/ready, which answers 200 once the storage is open and
// the config loaded.
func (s *Server) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.address+"/-/ready", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/-/ready answered %s", resp.Status)
		}
		last = err
		select {
		case <-s.proc.exited:
			return fmt.Errorf("prometheus exited before it was ready (%v)", s.proc.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("prometheus at %s not ready in time (last: %w)", s.address, last)
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Address is the base URL of the HTTP API, http://127.0.0.1:PORT.
func (s *Server) Address() string { return s.address }

// API is a client of the server's HTTP API.
func (s *Server) API() v1.API { return s.api }

// LogPath is the file prometheus logs to.
func (s *Server) LogPath() string { return s.logPath }

// SetTargets replaces the scraped targets (host:port). Prometheus notices
// the file at once but applies new targets on its 5 s tick, so the first
// scrape of a new target comes up to 6 s later; wait for it with
// WaitForTarget.
func (s *Server) SetTargets(targets ...string) error {
	return WriteTargets(s.targetsFile, targets...)
}

// ReadTargets reads the targets file of ConfigFor; a missing file lists none.
func ReadTargets(file string) ([]string, error) {
	raw, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the scrape targets: %w", err)
	}
	var groups []struct {
		Targets []string `json:"targets"`
	}
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("read the scrape targets %s: %w", file, err)
	}
	var out []string
	for _, g := range groups {
		out = append(out, g.Targets...)
	}
	return out, nil
}

// WriteTargets writes the targets file of ConfigFor.
func WriteTargets(file string, targets ...string) error {
	groups := []map[string]any{{"targets": append([]string{}, targets...), "labels": map[string]string{}}}
	b, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	// Written aside and renamed, so that prometheus never reads half a file.
	tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write the scrape targets: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("write the scrape targets: %w", err)
	}
	return nil
}

// Stop kills prometheus and waits for it to exit. Its data is of no use
// after a test, so it gets no graceful shutdown.
func (s *Server) Stop() {
	p := s.proc
	p.stop.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

// logTail returns the last n lines of the log.
func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
