package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/istio-canary/istio-canary/providers/canary"
	"github.com/istio-canary/istio-canary/providers/canary/canarytest"
	"github.com/istio-canary/istio-canary/providers/server"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// fuzzProvider is the provider as the command wires it, over an in-memory
// cluster that each call gets afresh (so that the same body always gets the
// same answer, even from scale, which writes). Calls go to the server's
// handler in process: the socket, and client-go's fake clientsets, took
// most of an execution's time.
type fuzzProvider struct {
	handler http.Handler
	objects []runtime.Object
	// workflows holds the seed Application, which the provider checks
	// every call against; no call writes it.
	workflows canary.Workflows
	// clients are over a fresh cluster; made only for a body that
	// decodes, which most of the fuzzer's do not.
	clients func() canary.Clients
}

func newFuzzProvider(f *testing.F) *fuzzProvider {
	raw, err := os.ReadFile(filepath.Join("testdata", "seed-step1.yaml"))
	require.NoError(f, err)
	p := &fuzzProvider{workflows: workflowruntest.Applications(f, workflowruntest.SeedApplication)}
	for i, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct{ Kind string }
		require.NoError(f, yaml.Unmarshal([]byte(doc), &meta))
		var o runtime.Object
		switch meta.Kind {
		case "Deployment":
			o = &appsv1.Deployment{}
		case "VirtualService":
			o = &networkingv1.VirtualService{}
		case "DestinationRule":
			o = &networkingv1.DestinationRule{}
		default:
			f.Fatalf("doc %d: unexpected kind %q", i, meta.Kind)
		}
		require.NoError(f, yaml.Unmarshal([]byte(doc), o), "doc %d", i)
		p.objects = append(p.objects, o)
	}
	// Quiet: the provider logs every call it rejects or fails, millions of
	// them while fuzzing.
	s, err := server.New(server.Options{IsInputError: canary.IsInputError, Logger: klog.LoggerWithName(klog.Background(), "fuzz").V(100)})
	require.NoError(f, err)
	server.Register(s, "plan", func(ctx context.Context, in *canary.PlanParams) (*canary.PlanResult, error) {
		return p.clients().Plan(ctx, in)
	})
	server.Register(s, "scale", func(ctx context.Context, in *canary.ScaleParams) (*canary.ScaleResult, error) {
		return p.clients().Scale(ctx, in)
	})
	p.handler = s
	return p
}

// post sends body to /function of a fresh cluster; the reply must be one
// JSON object, whatever the body. (A handler that panics fails the input,
// as the connection it closed over a socket did.)
func (p *fuzzProvider) post(t testing.TB, function string, body []byte) map[string]any {
	t.Helper()
	p.clients = func() canary.Clients {
		cluster := canarytest.NewCluster(t, p.objects...)
		return canary.Clients{Kube: cluster.Kube(), Istio: cluster.Istio(), Workflows: p.workflows}
	}
	// Built here rather than by httptest.NewRequest, which parses it from
	// text: that took a fifth of an execution for a body that does not
	// decode, most of the fuzzer's.
	req := &http.Request{
		Method:        http.MethodPost,
		URL:           &url.URL{Path: "/" + function},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          "provider",
	}
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	raw := rec.Body.Bytes()
	require.Less(t, rec.Code, 500, "reply %s", raw)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "the reply must be a JSON object: %q", raw)
	require.NotNil(t, out, "the reply must be a JSON object, not null")
	return out
}

// withoutHelpers is t for the checks of an execution. testing's Helper,
// which every require call makes twice, walks the stack each time: a tenth
// of an execution for a body that does not decode. Without it a failure is
// reported at a line of testify's, whose Error Trace still names the check's.
type withoutHelpers struct{ testing.TB }

func (withoutHelpers) Helper() {}

// FuzzDecodeParams posts arbitrary bodies to plan and scale. Whatever the
// body, the reply is a JSON object: a result, or an err or retry alone. A
// $params of a field of the wrong type is answered with an err that names
// the field, so that the user can find it. And the numbers of a body decode
// the same whether written as integers or as CUE writes the floats that an
// external provider's answers become (1E+1, 2.0).
func FuzzDecodeParams(f *testing.F) {
	step1, err := os.ReadFile(filepath.Join("testdata", "plan-step1.json"))
	require.NoError(f, err)
	scale := strings.Replace(string(step1), `"namespace"`, `"name":"reviews-v1","replicas":1,"namespace"`, 1)
	f.Add(false, step1)
	f.Add(false, []byte(strings.NewReplacer(`"targetSize": 2`, `"targetSize": 2.0`, `"weight": 10}`, `"weight": 1E+1}`, `"batchPartition": 0`, `"batchPartition": 0.0`).Replace(string(step1))))
	f.Add(false, []byte(strings.Replace(string(step1), `"targetSize": 2`, `"targetSize": "2"`, 1)))
	f.Add(false, []byte(strings.Replace(string(step1), `"weight": 90`, `"weight": 90.5`, 1)))
	f.Add(false, []byte(strings.Replace(string(step1), `"rolloutBatches": [`, `"rolloutBatches": {"x": [`, 1)))
	f.Add(true, []byte(scale))
	f.Add(true, []byte(strings.Replace(scale, `"replicas":1`, `"replicas":1E+0`, 1)))
	f.Add(true, []byte(strings.Replace(scale, `"replicas":1`, `"replicas":1e400`, 1)))
	f.Add(true, []byte(strings.Replace(scale, `"replicas":1`, `"replicas":-2.0`, 1)))
	f.Add(true, []byte(strings.Replace(scale, `"replicas":1`, `"replicas":null`, 1)))
	f.Add(true, []byte(`{"name":["reviews-v1"]}`))
	f.Add(true, []byte(`{"step":5}`))
	f.Add(false, []byte(`null`))
	f.Add(false, []byte(`[]`))
	f.Add(false, []byte(`{`))
	f.Add(false, []byte{})

	// An execution keeps nothing it allocates: with the default GOGC the
	// collector would run every few executions.
	gcPercent := debug.SetGCPercent(400)
	f.Cleanup(func() { debug.SetGCPercent(gcPercent) })
	p := newFuzzProvider(f)
	f.Fuzz(func(tt *testing.T, isScale bool, body []byte) {
		t := withoutHelpers{tt}
		function := "plan"
		if isScale {
			function = "scale"
		}
		got := p.post(t, function, body)
		if e, ok := got["err"]; ok {
			require.Len(t, got, 1, "an err comes alone: %v", got)
			require.IsType(t, "", e)
		} else if r, ok := got["retry"]; ok {
			require.Len(t, got, 1, "a retry comes alone: %v", got)
			require.IsType(t, "", r)
		} else if isScale {
			require.Contains(t, got, "done")
		} else {
			require.Equal(t, true, got["planned"], "a plan says so: %v", got)
		}

		// A field of the wrong type is named in the err.
		var in any = &canary.PlanParams{}
		if isScale {
			in = &canary.ScaleParams{}
		}
		if field := wrongField(body, in); field != "" {
			require.Contains(t, got["err"], field, "the err names the field of the wrong type")
		}

		// The same body with its integers written as CUE floats gets the
		// same answer.
		ints, floats, ok := cueNumbers(body)
		if !ok {
			return
		}
		want, got := p.post(t, function, ints), p.post(t, function, floats)
		// The provider checks the caller's names in no fixed order, so a
		// body with more than one bad name may get any of the complaints.
		if badName.MatchString(fmt.Sprint(want["err"])) && badName.MatchString(fmt.Sprint(got["err"])) {
			return
		}
		require.Equal(t, want, got, "integers written as CUE floats decode alike:\n%s\n%s", ints, floats)
	})
}

// wrongField is the path of the field of a JSON object body whose value has
// the wrong type for in (decoded as the server decodes, numbers through
// float64); "" when the body is no JSON object or decodes.
var badName = regexp.MustCompile(`^(namespace|app|component): ".*" is not a valid name$`)

func wrongField(body []byte, in any) string {
	var loose map[string]any
	if json.Unmarshal(body, &loose) != nil || loose == nil {
		return ""
	}
	normal, err := json.Marshal(loose)
	if err != nil {
		return ""
	}
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(normal, in); errors.As(err, &typeErr) {
		return typeErr.Field
	}
	return ""
}

// cueNumbers re-encodes a JSON body twice: with its numbers as they are and
// with every integer written as CUE writes a float (10 as 1E+1, 2 as 2.0).
func cueNumbers(body []byte) (ints, floats []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return nil, nil, false
	}
	var err error
	if ints, err = json.Marshal(v); err != nil {
		return nil, nil, false
	}
	if floats, err = json.Marshal(cueFloats(v)); err != nil {
		return nil, nil, false
	}
	return ints, floats, !bytes.Equal(ints, floats)
}

func cueFloats(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = cueFloats(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cueFloats(e)
		}
		return out
	case json.Number:
		return cueFloat(v)
	}
	return v
}

// cueFloat writes an integer as CUE writes the float of its value: the
// trailing zeros as an exponent (1E+1), else a decimal point (2.0). Other
// numbers, and integers too long to be exact as a float64, stay as they are.
func cueFloat(n json.Number) json.Number {
	s := string(n)
	if _, err := strconv.ParseInt(s, 10, 54); err != nil {
		return n
	}
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	digits := strings.TrimRight(s, "0")
	if digits == "" {
		return json.Number(sign + "0.0")
	}
	if zeros := len(s) - len(digits); zeros > 0 {
		return json.Number(sign + digits + "E+" + strconv.Itoa(zeros))
	}
	return json.Number(sign + s + ".0")
}
