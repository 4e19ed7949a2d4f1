package cluster

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// VelaSystemNamespace is where vela-core looks for its definitions.
const VelaSystemNamespace = "vela-system"

// FakeNodeName is the kwok node every pod of the cluster is scheduled to.
const FakeNodeName = "kwok-node-0"

// readYAMLFiles decodes every file matched by the glob patterns (sorted, so
// the order is stable), after applying edit to each file's bytes.
func readYAMLFiles(edit func(path string, data []byte) ([]byte, error), patterns ...string) ([]*unstructured.Unstructured, error) {
	var files []string
	for _, pattern := range patterns {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("glob %s: %w", pattern, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("no file matches %s", pattern)
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	var objects []*unstructured.Unstructured
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		if edit != nil {
			if data, err = edit(file, data); err != nil {
				return nil, err
			}
		}
		objs, err := DecodeYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		objects = append(objects, objs...)
	}
	return objects, nil
}

// velaCRDs are the CRDs of the vela-core Helm chart (Application,
// ComponentDefinition, ..., cue.oam.dev Package).
func velaCRDs(kubevela module) ([]*unstructured.Unstructured, error) {
	return readYAMLFiles(nil, filepath.Join(kubevela.Dir, "charts/vela-core/crds/*.yaml"))
}

// velaDefinitions are the builtin definitions of the vela-core chart
// (webservice, expose, scaler, ... and the velaql views that `vela status
// --endpoint` reads). Their only Helm templating is the namespace include,
// replaced here; anything else left would mean the chart changed, so it is
// an error rather than a silently broken definition.
func velaDefinitions(kubevela module) ([]*unstructured.Unstructured, error) {
	include := []byte(`{{ include "systemDefinitionNamespace" . }}`)
	render := func(path string, data []byte) ([]byte, error) {
		data = bytes.ReplaceAll(data, include, []byte(VelaSystemNamespace))
		if bytes.Contains(data, []byte("{{")) {
			return nil, fmt.Errorf("%s: Helm templating other than the namespace include; render it before applying", path)
		}
		return data, nil
	}
	templates := filepath.Join(kubevela.Dir, "charts/vela-core/templates")
	return readYAMLFiles(render, filepath.Join(templates, "defwithtemplate/*.yaml"), filepath.Join(templates, "velaql/*.yaml"))
}

// istioCRDs are all CRDs of the Istio release (networking: Gateway,
// VirtualService, DestinationRule, ...; security; telemetry) with their real
// schemas and validation rules, so the API server rejects what a cluster with
// Istio would reject.
func istioCRDs(istioAPI module) ([]*unstructured.Unstructured, error) {
	return readYAMLFiles(nil, filepath.Join(istioAPI.Dir, "kubernetes/customresourcedefinitions.gen.yaml"))
}

// kwokStages concatenates the stage files of the kwok we run (stages of
// another kwok version can use template functions it lacks): nodes become
// Ready at once and keep a Lease, pods become Ready at once, complete, and
// are deleted promptly.
func kwokStages(kwok module) ([]byte, error) {
	stageDir := filepath.Join(kwok.Dir, "kustomize/stage")
	var out bytes.Buffer
	for _, file := range []string{
		"node/fast/node-initialize.yaml",
		"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
		"pod/fast/pod-ready.yaml",
		"pod/fast/pod-complete.yaml",
		"pod/fast/pod-delete.yaml",
	} {
		data, err := os.ReadFile(filepath.Join(stageDir, file))
		if err != nil {
			return nil, fmt.Errorf("read kwok stage: %w", err)
		}
		out.WriteString("---\n")
		out.Write(data)
		out.WriteString("\n")
	}
	return out.Bytes(), nil
}

// objectsFromYAML decodes YAML that this package writes itself.
func objectsFromYAML(yaml string) ([]*unstructured.Unstructured, error) {
	objects, err := DecodeYAML([]byte(yaml))
	if err != nil {
		return nil, fmt.Errorf("decode built-in manifest: %w", err)
	}
	return objects, nil
}

// fakeNode is the Node kwok plays the kubelet of (it manages nodes with the
// kwok.x-k8s.io/node=fake annotation). No taint: every pod may run on it.
func fakeNode() string {
	return `apiVersion: v1
kind: Node
metadata:
  name: ` + FakeNodeName + `
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: ` + FakeNodeName + `
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
`
}

func velaSystemNamespace() string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + VelaSystemNamespace + "\n"
}

// velaCorePlaceholder stands in for the vela-core Deployment of a Helm
// install: vela-core runs here as a local process, but `vela addon enable`
// checks the addon's system requirements against the image tag of the
// Deployment labelled controller.oam.dev/name=vela-core (container
// "kubevela"; see fetchVelaCoreImageTag in kubevela's pkg/addon/addon.go)
// and fails with "can't find a running KubeVela instance" without one. The
// placeholder has 0 replicas, so it never runs a pod.
func velaCorePlaceholder(velaVersion string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubevela-vela-core
  namespace: ` + VelaSystemNamespace + `
  labels:
    controller.oam.dev/name: vela-core
    app.kubernetes.io/name: vela-core
  annotations:
    istio-canary.dev/placeholder: "vela-core runs as a local process; this Deployment only tells the vela CLI its version"
spec:
  replicas: 0
  selector:
    matchLabels:
      app.kubernetes.io/name: vela-core
  template:
    metadata:
      labels:
        app.kubernetes.io/name: vela-core
    spec:
      containers:
      - name: kubevela
        image: oamdev/vela-core:` + velaVersion + `
`
}
