package workflowruntest

import (
	_ "embed"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"sigs.k8s.io/yaml"

	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// SeedApplication is the seed's Application book-info in default while its
// workflow runs step canary-1 of revision book-info-v2, and that revision.
//
//go:embed seed-application.yaml
var SeedApplication string

// SeedRevision is the revision whose run SeedApplication holds.
const SeedRevision = "book-info-v2"

// Applications is the real workflowrun client over a fake API server that
// holds the objects of docs (YAML documents separated by ---), each
// Application changed by mods first.
func Applications(t testing.TB, docs string, mods ...func(app *unstructured.Unstructured)) workflowrun.Client {
	t.Helper()
	var objs []runtime.Object
	for _, doc := range strings.Split(docs, "\n---\n") {
		u := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &u.Object))
		if u.GetKind() == "Application" {
			for _, m := range mods {
				m(u)
			}
		}
		objs = append(objs, u)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		workflowrun.ApplicationGVR:         "ApplicationList",
		workflowrun.ApplicationRevisionGVR: "ApplicationRevisionList",
	}, objs...)
	return workflowrun.Client{Dynamic: dyn}
}
