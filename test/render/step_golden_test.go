package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// stepCase is one testdata/<step>/<case>.yaml: the step's properties and
// what the fakes answer.
type stepCase struct {
	Description string         `json:"description"`
	Properties  map[string]any `json:"properties,omitempty"`
	// Context is merged over testdata/step-context.yaml.
	Context map[string]any `json:"context,omitempty"`
	// Application replaces testdata/bookinfo.yaml: the components
	// oam.#LoadComponets returns, by name.
	Application map[string]any `json:"application,omitempty"`
	// Plan and Scale are the istio-canary provider's answers, by component.
	Plan  map[string]map[string]any `json:"plan,omitempty"`
	Scale map[string]map[string]any `json:"scale,omitempty"`
	// Analyze is the provider's answer to the analyze call.
	Analyze map[string]any `json:"analyze,omitempty"`
	// ProviderError makes every call to the provider fail (unreachable).
	ProviderError string `json:"providerError,omitempty"`
	// Unhealthy components make oam.#ApplyComponent flag the step as waiting.
	Unhealthy []string `json:"unhealthy,omitempty"`
	// Live names the objects in the cluster, testdata/live/<live>.yaml
	// (default: testdata/live/v1-serving.yaml): the traits' kube.#List reads
	// its Deployments when a component renders. A case that names it says
	// that Plan and Scale are what the provider answers for these objects,
	// and contract_test.go runs it against the real provider.
	Live string `json:"live,omitempty"`
	// Want is how the evaluation must end.
	Want struct {
		Phase string `json:"phase"`
		// MessageMentions must all be in the message (for failed: name the field).
		MessageMentions []string `json:"messageMentions,omitempty"`
	} `json:"want"`
}

// defaultLive is the live state of the cases that do not name one: the
// seed's first deploy.
const defaultLive = "v1-serving"

// stepSetup is what a case runs with besides its fakes.
type stepSetup struct {
	tc   stepCase
	ctx  map[string]any
	app  map[string]any
	live []map[string]any // the objects in the cluster
}

// loadStepCase reads a case and what it runs with.
func loadStepCase(t *testing.T, file string) stepSetup {
	t.Helper()
	var s stepSetup
	readYAML(t, file, &s.tc)
	require.NotEmpty(t, s.tc.Description, "%s: say what the case is about in description", file)
	require.NotEmpty(t, s.tc.Want.Phase, "%s: want.phase", file)
	var baseCtx map[string]any
	readYAML(t, filepath.Join("testdata", "step-context.yaml"), &baseCtx)
	s.ctx = deepMerge(baseCtx, s.tc.Context)
	s.app = s.tc.Application
	if s.app == nil {
		readYAML(t, filepath.Join("testdata", "bookinfo.yaml"), &s.app)
	}
	live := s.tc.Live
	if live == "" {
		live = defaultLive
	}
	s.live = liveObjects(t, live)
	return s
}

// traitCluster is what the traits' kube.#List finds: the live Deployments.
func (s stepSetup) traitCluster() *cluster {
	cl := &cluster{}
	for _, o := range s.live {
		if o["kind"] == "Deployment" {
			cl.Deployments = append(cl.Deployments, o)
		}
	}
	return cl
}

// checkWant asserts that the run ends as the case wants, and in the order
// of writes every step keeps.
func checkWant(t *testing.T, tc stepCase, run *stepRun) {
	t.Helper()
	assert.Equal(t, tc.Want.Phase, run.Phase, "phase (message: %s)", run.Message)
	for _, m := range tc.Want.MessageMentions {
		assert.Contains(t, run.Message, m)
	}
	assert.Empty(t, run.Unresolved, "errors inside the step's value that vela would not report")
	checkStepOrder(t, run)
}

// TestStepGolden evaluates every case of every workflow step once and
// compares the calls it made with the golden file.
func TestStepGolden(t *testing.T) {
	defs := allDefinitions(t)
	steps := sortedNames(defs, "workflow-step")
	require.NotEmpty(t, steps, "no workflow-step definitions")
	for _, name := range steps {
		t.Run(name, func(t *testing.T) {
			files := caseFiles(t, name)
			require.NotEmpty(t, files, "step %s has no cases in testdata/%s", name, name)
			for _, file := range files {
				t.Run(caseName(file), func(t *testing.T) {
					s := loadStepCase(t, file)
					run := runStep(t, defs[name], s.tc.Properties, s.ctx, stepFakes(t, defs, s.tc, s.app, s.ctx, s.traitCluster()))
					checkWant(t, s.tc, run)
					out, err := yaml.Marshal(run)
					require.NoError(t, err)
					checkGolden(t, goldenPath(file), out)
				})
			}
		})
	}
}

// checkStepOrder asserts the order of changes of docs/design.md, for every
// component: the instances are applied before any route, the routes before
// the subsets, the subsets before the old version is scaled.
func checkStepOrder(t *testing.T, run *stepRun) {
	t.Helper()
	first := map[string]int{}
	last := map[string]int{}
	for i, c := range run.Calls {
		kind := ""
		switch {
		case c.Provider == "oam" && c.Do == "component-apply":
			kind = "apply"
		case c.Provider == "kube" && c.Do == "apply":
			obj, _ := c.Params.(map[string]any)["value"].(map[string]any)
			kind = "apply " + fmt.Sprint(obj["kind"])
		case c.Provider == "istio-canary":
			kind = c.Do
		default:
			continue
		}
		if _, ok := first[kind]; !ok {
			first[kind] = i
		}
		last[kind] = i
	}
	// order: a must be done before b starts; required: b needs an a before it.
	order := func(a, b string, required bool) {
		if _, ok := first[b]; !ok {
			return
		}
		if _, ok := last[a]; !ok {
			if required {
				t.Errorf("%s happens without any %s before it", b, a)
			}
			return
		}
		assert.Less(t, last[a], first[b], "every %s must come before the first %s", a, b)
	}
	order("plan", "apply", true)
	order("apply Deployment", "apply VirtualService", true)
	order("apply VirtualService", "apply DestinationRule", false)
	order("apply VirtualService", "scale", false)
	order("apply DestinationRule", "scale", false)
}

// liveObjects reads testdata/live/<name>.yaml, a YAML stream of Kubernetes
// objects.
func liveObjects(t *testing.T, name string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "live", name+".yaml"))
	require.NoError(t, err)
	var out []map[string]any
	for i, doc := range strings.Split(string(raw), "\n---\n") {
		var obj map[string]any
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &obj), "live/%s.yaml, object %d", name, i)
		require.NotEmpty(t, obj["kind"], "live/%s.yaml, object %d has no kind", name, i)
		out = append(out, obj)
	}
	return out
}
