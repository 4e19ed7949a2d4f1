//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// checkForgedCallsRefused posts to the provider, while the Application is
// suspended at 90/10 in e.ns, what anyone who reaches its port could send:
// the bare curl that once scaled an Application's stable version to 40,
// and calls naming the finished first step, the approval, the step ahead
// (with made-up rollout properties), another namespace. Each is refused, and no Deployment changes.
func (e *env) checkForgedCallsRefused() {
	e.t.Helper()
	provider := e.providerURL()
	revision := e.appRevision(e.ns, app)
	call := func(step, namespace string, replicas int) string {
		return fmt.Sprintf(`{"namespace":%q,"app":%q,"component":"reviews","name":"reviews-v1","replicas":%d,"step":%q,"revision":%q,"action":"rollout","rollout":{"targetSize":2},"workload":{}}`,
			namespace, app, replicas, step, revision)
	}
	before := e.replicasOf("reviews-v1", "reviews-v2")
	for _, tc := range []struct{ body, want string }{
		{fmt.Sprintf(`{"namespace":%q,"app":%q,"component":"reviews","name":"reviews-v1","replicas":40}`, e.ns, app), "refused: step and revision"},
		{call("rollout-1st-batch", e.ns, 40), "refused: step rollout-1st-batch of application " + e.ns + "/book-info has finished"},
		{call("manual-approval", e.ns, 0), "is a suspend step"},
		{call("rollout-rest", e.ns, 0), "refused: rollout: the call's rollout properties"},
		{call("rollout-1st-batch", "seedv", 40), "refused: application seedv/book-info does not exist"},
	} {
		resp, err := http.Post(provider+"/scale", "application/json", bytes.NewBufferString(tc.body))
		require.NoError(e.t, err)
		var reply map[string]string
		require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&reply))
		resp.Body.Close()
		require.Contains(e.t, reply["err"], tc.want, "reply to %s", tc.body)
	}
	require.Equal(e.t, before, e.replicasOf("reviews-v1", "reviews-v2"), "no forged call changes a Deployment")
}

// replicasOf is the wanted replicas of Deployments of e.ns.
func (e *env) replicasOf(names ...string) map[string]int32 {
	out := map[string]int32{}
	for _, n := range names {
		out[n], _, _ = e.deployment(e.ns, n)
	}
	return out
}

// appRevision is the revision the Application's recorded workflow run is for.
func (e *env) appRevision(namespace, name string) string {
	e.t.Helper()
	u, err := e.dyn.Resource(applications).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(e.t, err)
	rev, _, err := unstructured.NestedString(u.Object, "status", "workflow", "appRevision")
	require.NoError(e.t, err)
	require.NotEmpty(e.t, rev, "application %s/%s has no workflow run", namespace, name)
	return rev
}
