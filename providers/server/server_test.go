package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/providers/server"
)

// echoIn and echoOut are the $params and $returns of the test function.
type echoIn struct {
	Say   string `json:"say"`
	Times int    `json:"times"`
}

type echoOut struct {
	Said  string `json:"said"`
	Times int    `json:"times"`
}

// badInput marks the errors the test server reports as input errors.
type badInput struct{ msg string }

func (e badInput) Error() string { return e.msg }

func isBadInput(err error) bool {
	var b badInput
	return errors.As(err, &b)
}

// fake is a provider function that records its calls and answers by what it
// is asked to say.
type fake struct {
	mu    sync.Mutex
	calls []echoIn
	ctxOK bool
}

func (f *fake) echo(ctx context.Context, in *echoIn) (*echoOut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *in)
	f.ctxOK = ctx != nil && klog.FromContext(ctx).GetSink() != nil
	switch in.Say {
	case "bad":
		return nil, fmt.Errorf("plan: %w", badInput{"batchPartition: 3 is out of range"})
	case "flaky":
		return nil, errors.New("get Deployment default/reviews-v1: the server is currently unable to handle the request")
	}
	return &echoOut{Said: in.Say, Times: in.Times}, nil
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type testServer struct {
	*httptest.Server
	fn *fake
}

func newServer(t *testing.T, mods ...func(*server.Options)) testServer {
	t.Helper()
	logger, _ := ktesting.NewTestContext(t)
	opts := server.Options{IsInputError: isBadInput, Logger: logger}
	for _, m := range mods {
		m(&opts)
	}
	s, err := server.New(opts)
	require.NoError(t, err)
	fn := &fake{}
	server.Register(s, "echo", fn.echo)
	ts := serve(t, s)
	ts.fn = fn
	return ts
}

// serve starts s on a local port until the test ends.
func serve(t *testing.T, s *server.Server) testServer {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return testServer{Server: ts}
}

// do sends a request and returns the reply, which must be one JSON object.
func (ts testServer) do(t *testing.T, method, path, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), "body %s", raw)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "the reply must be a JSON object: %q", raw)
	require.NotNil(t, out, "the reply must be a JSON object, not null: %q", raw)
	return out
}

func (ts testServer) post(t *testing.T, path, body string) map[string]any {
	t.Helper()
	return ts.do(t, http.MethodPost, path, body)
}

func TestServerCalls(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   string
		want   map[string]any // the whole reply
		errHas []string       // instead of want: the reply is {"err": ...} containing these
		retry  []string       // instead of want: the reply is {"retry": ...} containing these
		called bool           // the function ran
	}{
		{
			name:   "success: $returns is the function's result",
			body:   `{"say":"hello","times":2}`,
			want:   map[string]any{"said": "hello", "times": float64(2)},
			called: true,
		},
		{
			name:   "unknown fields in $params are ignored",
			body:   `{"say":"hi","extra":{"nested":true}}`,
			want:   map[string]any{"said": "hi", "times": float64(0)},
			called: true,
		},

		{
			name:   "a field of the wrong type",
			body:   `{"say":42}`,
			errHas: []string{"decode $params"},
		},
		{
			name:   "GET",
			method: http.MethodGet,
			body:   `{}`,
			errHas: []string{"echo: use POST"},
		},
		{
			name:   "PUT",
			method: http.MethodPut,
			body:   `{}`,
			errHas: []string{"echo: use POST"},
		},
		{
			name:   "a JSON array",
			body:   `[{}]`,
			errHas: []string{"echo: $params is not a JSON object"},
		},
		{
			name:   "a JSON string",
			body:   `"hello"`,
			errHas: []string{"echo: $params is not a JSON object"},
		},
		{
			name:   "not JSON",
			body:   `say=hello`,
			errHas: []string{"echo: $params is not a JSON object"},
		},
		{
			name:   "empty body",
			body:   ``,
			errHas: []string{"echo: $params is not a JSON object"},
		},
		{
			name:   "null",
			body:   `null`,
			errHas: []string{"echo:"},
		},
		{
			name:   "$params that do not decode into the function's input",
			body:   `{"say":"hello","times":"twice"}`,
			errHas: []string{"decode $params"},
		},
		{
			name:   "input error",
			body:   `{"say":"bad"}`,
			errHas: []string{"plan: batchPartition: 3 is out of range"},
			called: true,
		},
		{
			name:   "any other error: retry",
			body:   `{"say":"flaky"}`,
			retry:  []string{"get Deployment default/reviews-v1", "unable to handle the request"},
			called: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newServer(t)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			got := ts.do(t, method, "/echo", tt.body)
			switch {
			case tt.errHas != nil:
				require.Len(t, got, 1, "only err: %v", got)
				msg, ok := got["err"].(string)
				require.True(t, ok, "want {\"err\": ...}, got %v", got)
				for _, s := range tt.errHas {
					require.Contains(t, msg, s)
				}
			case tt.retry != nil:
				require.Len(t, got, 1, "only retry: %v", got)
				msg, ok := got["retry"].(string)
				require.True(t, ok, "want {\"retry\": ...}, got %v", got)
				for _, s := range tt.retry {
					require.Contains(t, msg, s)
				}
			default:
				require.Equal(t, tt.want, got)
			}
			if tt.called {
				require.Equal(t, 1, ts.fn.count(), "the function runs once")
				require.True(t, ts.fn.ctxOK, "the function gets a context with a logger")
			} else {
				require.Zero(t, ts.fn.count(), "the function must not run")
			}
		})
	}
}

func TestServerBodyLimit(t *testing.T) {
	const limit = 256
	ts := newServer(t, func(o *server.Options) { o.MaxBodyBytes = limit })
	body := func(n int) string {
		prefix := `{"say":"`
		return prefix + strings.Repeat("a", n-len(prefix)-2) + `"}`
	}
	require.Len(t, body(limit), limit)

	got := ts.post(t, "/echo", body(limit))
	require.Equal(t, strings.Repeat("a", limit-len(`{"say":"`)-2), got["said"], "a body of exactly the limit passes")

	got = ts.post(t, "/echo", body(limit+1))
	require.Contains(t, got["err"], "echo: read $params")
	require.Contains(t, got["err"], "too large")
	require.Equal(t, 1, ts.fn.count(), "the function did not run for the large body")

	got = ts.post(t, "/echo", body(10*limit))
	require.Contains(t, got["err"], "too large")
}

func TestServerDefaultBodyLimit(t *testing.T) {
	ts := newServer(t)
	big := `{"say":"` + strings.Repeat("a", server.DefaultMaxBodyBytes) + `"}`
	got := ts.post(t, "/echo", big)
	require.Contains(t, got["err"], "too large")
	require.Zero(t, ts.fn.count())
}

func TestServerWithoutIsInputError(t *testing.T) {
	// Without a classifier every function error is passing, but $params
	// that do not decode are still bad input.
	ts := newServer(t, func(o *server.Options) { o.IsInputError = nil })
	require.Contains(t, ts.post(t, "/echo", `{"say":"bad"}`), "retry")
	require.Contains(t, ts.post(t, "/echo", `{"times":"x"}`), "err")
}

// TestServerUnknownFunction: vela parses every reply as JSON, so a call to a
// function that does not exist (a typo in a step's #do, or a step newer than
// the provider) must answer {"err"} too, not net/http's text 404.
func TestServerUnknownFunction(t *testing.T) {
	ts := newServer(t)
	got := ts.post(t, "/promote", `{}`)
	require.Len(t, got, 1)
	require.Contains(t, got["err"], `"promote"`)
	require.Contains(t, got["err"], "echo", "names the functions it serves")
	got = ts.do(t, http.MethodGet, "/", "")
	require.Contains(t, got, "err")
	require.Zero(t, ts.fn.count())

	resp, err := ts.Client().Get(ts.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(raw), `istio_canary_provider_calls_total{function="unknown",outcome="err"} 2`+"\n")
}

// TestServerNilResult: a function that returns neither a result nor an
// error must still answer a JSON object.
func TestServerNilResult(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	s, err := server.New(server.Options{Logger: logger})
	require.NoError(t, err)
	server.Register(s, "nothing", func(context.Context, *echoIn) (*echoOut, error) { return nil, nil })
	got := serve(t, s).post(t, "/nothing", `{}`)
	require.Empty(t, got)
}

func TestServerHealthz(t *testing.T) {
	ts := newServer(t)
	resp, err := ts.Client().Get(ts.URL + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok", string(raw))
	require.Zero(t, ts.fn.count())
}

func TestServerMetrics(t *testing.T) {
	ts := newServer(t)
	for _, body := range []string{
		`{"say":"a"}`,
		`{"say":"b"}`,
		`{"say":"bad"}`,
		`{"say":"flaky"}`,
		`[]`,
	} {
		ts.post(t, "/echo", body)
	}
	ts.do(t, http.MethodGet, "/echo", "")

	resp, err := ts.Client().Get(ts.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(raw)
	for _, line := range []string{
		`istio_canary_provider_calls_total{function="echo",outcome="ok"} 2`,
		`istio_canary_provider_calls_total{function="echo",outcome="err"} 3`,
		`istio_canary_provider_calls_total{function="echo",outcome="retry"} 1`,
		`istio_canary_provider_call_duration_seconds_count{function="echo"} 6`,
	} {
		require.Contains(t, text, line+"\n")
	}
	require.Contains(t, text, "# TYPE istio_canary_provider_calls_total counter")
	require.Contains(t, text, "# TYPE istio_canary_provider_call_duration_seconds histogram")
}

func TestServerMetricsOnAGivenRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := newServer(t, func(o *server.Options) { o.Registerer, o.Gatherer = reg, reg })
	ts.post(t, "/echo", `{"say":"a"}`)
	families, err := reg.Gather()
	require.NoError(t, err)
	var found bool
	for _, mf := range families {
		if mf.GetName() != "istio_canary_provider_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["function"] == "echo" && labels["outcome"] == "ok" {
				found = true
				require.Equal(t, float64(1), m.GetCounter().GetValue())
			}
		}
	}
	require.True(t, found, "the calls counter is on the given registry")

	// A second server on the same registry cannot register its metrics.
	_, err = server.New(server.Options{Registerer: reg})
	require.ErrorContains(t, err, "register metrics")
}

// TestServerConcurrentCalls: vela reconciles many applications at once.
func TestServerConcurrentCalls(t *testing.T) {
	ts := newServer(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/echo", strings.NewReader(fmt.Sprintf(`{"say":"c","times":%d}`, i)))
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var out echoOut
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Times != i {
				t.Errorf("call %d: %+v %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 20, ts.fn.count())
}
