// Package server speaks KubeVela's CueX external-provider protocol: vela-core
// POSTs the JSON of a call's $params to /<function> and fills $returns with the
// JSON object in the reply. vela ignores the HTTP status and cannot parse
// anything but a JSON object, so every reply is one: a failed call answers
// {"err": "..."} (bad input: the step fails with it) or {"retry": "..."}
// (a passing problem: the step waits and calls again).
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
)

// DefaultMaxBodyBytes bounds a request body; a rendered Deployment is a few KiB.
const DefaultMaxBodyBytes = 1 << 20

// Options configure a Server.
type Options struct {
	// IsInputError tells bad input (answered as err) from passing problems (retry).
	IsInputError func(error) bool
	Logger       klog.Logger
	Registerer   prometheus.Registerer
	Gatherer     prometheus.Gatherer
	MaxBodyBytes int64
	// Ready is /readyz's check (e.g. SecretCheck); nil means always ready.
	Ready func(context.Context) error
	// ReadyTimeout bounds Ready; default DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Server routes provider calls to functions.
type Server struct {
	opts      Options
	mux       *http.ServeMux
	functions []string
	calls     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// New returns a Server with /healthz, /readyz and /metrics; add functions with Register.
func New(opts Options) (*Server, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.IsInputError == nil {
		opts.IsInputError = func(error) bool { return false }
	}
	if opts.Registerer == nil {
		reg := prometheus.NewRegistry()
		opts.Registerer, opts.Gatherer = reg, reg
	}
	s := &Server{
		opts: opts,
		mux:  http.NewServeMux(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "istio_canary_provider_calls_total",
			Help: "Provider calls by function and outcome (ok, err, retry).",
		}, []string{"function", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "istio_canary_provider_call_duration_seconds",
			Help:    "Time to answer a provider call.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"function"}),
	}
	for _, c := range []prometheus.Collector{s.calls, s.latency} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("server: register metrics: %w", err)
		}
	}
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	s.mux.HandleFunc("/readyz", s.readyz)
	// A step calling a function this provider lacks still gets a JSON object.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.calls.WithLabelValues("unknown", "err").Inc()
		writeJSON(w, failure("err", fmt.Sprintf("unknown function %q; this provider serves: %s", strings.TrimPrefix(r.URL.Path, "/"), strings.Join(s.functions, ", "))))
	})
	if opts.Gatherer != nil {
		s.mux.Handle("/metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Register serves fn at POST /<name>: $params decode into In, Out encodes
// as $returns.
func Register[In, Out any](s *Server, name string, fn func(context.Context, *In) (*Out, error)) {
	s.functions = append(s.functions, name)
	s.mux.HandleFunc("/"+name, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		outcome, reply := s.call(r, name, typed[In, Out](fn))
		s.calls.WithLabelValues(name, outcome).Inc()
		s.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
		writeJSON(w, reply)
	})
}

func (s *Server) call(r *http.Request, name string, fn caller) (string, any) {
	logger := s.opts.Logger.WithValues("function", name)
	if r.Method != http.MethodPost {
		return "err", failure("err", fmt.Sprintf("%s: use POST", name))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		return "err", failure("err", fmt.Sprintf("%s: read $params: %v", name, err))
	}
	var object map[string]json.RawMessage
	if err := json.Unmarshal(body, &object); err != nil {
		return "err", failure("err", fmt.Sprintf("%s: $params is not a JSON object: %v", name, err))
	}
	if object == nil {
		return "err", failure("err", name+": $params is not a JSON object: null")
	}
	ctx := klog.NewContext(r.Context(), logger)
	out, err := fn.call(ctx, body)
	var badParams inputError
	switch {
	case err == nil:
		return "ok", out
	case errors.As(err, &badParams) || s.opts.IsInputError(err):
		logger.V(1).Info("rejected", "reason", err.Error())
		return "err", failure("err", err.Error())
	default:
		logger.Error(err, "call failed; the step will retry")
		return "retry", failure("retry", err.Error())
	}
}

func failure(key, msg string) map[string]string { return map[string]string{key: msg} }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		klog.Background().Error(err, "write reply")
	}
}
