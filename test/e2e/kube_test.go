//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/test/cluster"
)

var applications = schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "applications"}

// env is a test's handle on the local cluster with the addon enabled.
type env struct {
	t *testing.T
	// e.ns is the namespace the test's Applications live in.
	ns    string
	c     *cluster.Cluster
	kube  kubernetes.Interface
	dyn   dynamic.Interface
	istio istioclient.Interface
	root  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := cluster.ForTest(t)
	cfg, err := c.RESTConfig()
	require.NoError(t, err)
	e := &env{t: t, c: c, root: repoRoot(t), ns: "default"}
	e.kube, err = kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	e.dyn, err = dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	e.istio, err = istioclient.NewForConfig(cfg)
	require.NoError(t, err)
	return e
}

// isolated makes the test run in parallel with the other isolated ones, in
// a namespace of its own (its Applications, versions, analyses and
// telemetry are its own; the provider and vela-core are shared).
func (e *env) isolated() *env {
	e.t.Helper()
	e.t.Parallel()
	e.ns = testNamespace(e.t, e.kube)
	return e
}

// apply applies an example file to the test's namespace, as `kubectl apply
// -f` of the file does in the default one.
func (e *env) apply(file string) {
	e.t.Helper()
	dir, name := filepath.Split(strings.TrimPrefix(file, "examples/"))
	e.applyApp(e.loadExampleFile(filepath.Clean(dir), name))
}

// addonUp serialises hack/addon.sh up among the tests of this process: it
// is a no-op when the provider and addon are the tree's, but two tests
// finding them stale must not both restart the provider.
var addonUp sync.Mutex

func (e *env) addonUp() {
	e.t.Helper()
	addonUp.Lock()
	defer addonUp.Unlock()
	e.run("hack/addon.sh", "up")
}

// providerPID is the provider hack/addon.sh started.
func (e *env) providerPID() int {
	e.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(e.t, filepath.Join(e.root, ".cluster", "provider.pid"))))
	require.NoError(e.t, err)
	return pid
}

// providerURL is where the provider hack/addon.sh started listens.
func (e *env) providerURL() string {
	e.t.Helper()
	return "http://" + strings.TrimSpace(readFile(e.t, filepath.Join(e.root, ".cluster", "provider.addr")))
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for !fileExists(filepath.Join(dir, "go.mod")) {
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test")
		dir = parent
	}
	return dir
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// run runs a program of the cluster (kubectl, vela) or a repo script and
// returns its combined output; it fails the test when the command fails.
func (e *env) run(program string, args ...string) string {
	e.t.Helper()
	out, err := e.try(program, args...)
	// vela's workflow verbs write the Application's status without retrying
	// when vela-core wrote it in between ("the object has been modified"):
	// a user runs the command again, and so do the tests, a few times.
	for i := 0; i < 5 && err != nil && program == "vela" && strings.Contains(out, conflictMessage); i++ {
		time.Sleep(time.Second)
		out, err = e.try(program, args...)
	}
	require.NoError(e.t, err, "%s %s:\n%s", program, strings.Join(args, " "), out)
	return out
}

// conflictMessage is the API server's answer to a write based on an old
// resourceVersion.
const conflictMessage = "the object has been modified"

func (e *env) try(program string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := e.c.Command(ctx, program, args...)
	switch {
	case strings.Contains(program, "/"): // a script of the repository
		cmd.Path = filepath.Join(e.root, program)
		cmd.Args[0] = cmd.Path
	case !fileExists(cmd.Path): // not one of the cluster's programs
		if p, err := exec.LookPath(program); err == nil {
			cmd.Path, cmd.Args[0] = p, p
		}
	}
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// eventually polls cond until it holds; on timeout it fails with cond's last
// description of what it saw.
func (e *env) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		time.Sleep(250 * time.Millisecond)
	}
	e.t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
}

func (e *env) app(namespace, name string) (*unstructured.Unstructured, error) {
	return e.dyn.Resource(applications).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
}

// appPhase returns status.status and a summary of the workflow steps.
func (e *env) appPhase(namespace, name string) (string, string) {
	app, err := e.app(namespace, name)
	if err != nil {
		return "", err.Error()
	}
	return phaseOf(app)
}

// phaseOf is appPhase of an Application already read.
func phaseOf(app *unstructured.Unstructured) (string, string) {
	phase, _, _ := unstructured.NestedString(app.Object, "status", "status")
	steps, _, _ := unstructured.NestedSlice(app.Object, "status", "workflow", "steps")
	var s []string
	for _, st := range steps {
		m, _ := st.(map[string]any)
		s = append(s, fmt.Sprintf("%v=%v(%v)", m["name"], m["phase"], m["message"]))
	}
	return phase, phase + " " + strings.Join(s, ", ")
}

func (e *env) waitPhase(namespace, name, want string, timeout time.Duration) {
	e.t.Helper()
	e.eventually(timeout, "application "+name+" phase "+want, func() (bool, string) {
		phase, seen := e.appPhase(namespace, name)
		return phase == want, seen
	})
}

func (e *env) deleteApp(namespace, name string) {
	e.t.Helper()
	err := e.dyn.Resource(applications).Namespace(namespace).Delete(context.Background(), name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	require.NoError(e.t, err)
	e.eventually(2*time.Minute, "application "+name+" to be deleted", func() (bool, string) {
		_, err := e.app(namespace, name)
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// deployment returns spec.replicas and status.readyReplicas, or exists=false.
func (e *env) deployment(namespace, name string) (replicas, ready int32, exists bool) {
	d, err := e.kube.AppsV1().Deployments(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return 0, 0, false
	}
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	return replicas, d.Status.ReadyReplicas, true
}

// weights returns the weights of the VirtualService's route that the steps
// own (contract.ReadRoute) as subset -> weight.
func (e *env) weights(namespace, name string) (map[string]int, error) {
	vs, err := e.istio.NetworkingV1().VirtualServices(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, d := range contract.ReadRoute(&vs.Spec) {
		out[d.Version] += d.Weight
	}
	return out, nil
}

// subsets returns the versions the DestinationRule has subsets for, in order.
func (e *env) subsets(namespace, name string) []string {
	dr, err := e.istio.NetworkingV1().DestinationRules(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return contract.SubsetVersions(&dr.Spec)
}

// reconciledRE matches vela-core's log line for the end of an Application's
// reconcile, with the resourceVersion of the Application it read.
var reconciledRE = regexp.MustCompile(`End reconcile application\)" application="([^"]+)".* resource_version="(\d+)"`)

// forceReconcile makes vela-core reconcile the Application and returns once
// it has, going by vela-core's log: a reconcile that read the Application at
// or after the annotation this writes. (An annotation is the one change
// vela-core's event filter lets through without changing the spec; a
// reconcile already running when it lands may swallow it, so it is written
// again until one shows.)
func (e *env) forceReconcile(namespace, name string) {
	e.t.Helper()
	logFile := e.c.LogFile("vela-core")
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		bump := fmt.Sprintf(`{"metadata":{"annotations":{"e2e.istio-canary/reconcile":"%d"}}}`, time.Now().UnixNano())
		a, err := e.dyn.Resource(applications).Namespace(namespace).Patch(context.Background(), name, types.MergePatchType, []byte(bump), metav1.PatchOptions{})
		require.NoError(e.t, err)
		want, err := strconv.ParseInt(a.GetResourceVersion(), 10, 64)
		require.NoError(e.t, err)
		for try := time.Now().Add(10 * time.Second); time.Now().Before(try); time.Sleep(200 * time.Millisecond) {
			if lastReconciled(e.t, logFile, namespace+"/"+name) >= want {
				return
			}
		}
	}
	e.t.Fatalf("vela-core did not reconcile application %s/%s within a minute (see %s)", namespace, name, logFile)
}

// lastReconciled is the highest resourceVersion a finished reconcile of the
// application read, from vela-core's log.
func lastReconciled(t *testing.T, logFile, app string) int64 {
	t.Helper()
	raw, err := os.ReadFile(logFile)
	require.NoError(t, err)
	var last int64
	for _, m := range reconciledRE.FindAllStringSubmatch(string(raw), -1) {
		if m[1] != app {
			continue
		}
		if rv, err := strconv.ParseInt(m[2], 10, 64); err == nil && rv > last {
			last = rv
		}
	}
	return last
}
