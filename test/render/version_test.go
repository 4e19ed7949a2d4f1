package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The version rule (internal/defgen/fragments/version-rule.cue) beyond the
// golden cases: properties that must hold whatever the live Deployments.

// podSpecHash is the canary.oam.dev/pod-template-hash annotation computed in
// Go as docs/design.md states it: the first 10 hex digits of the sha256 of
// the JSON of the workload's pod spec. vela hands the trait the workload as
// JSON with sorted keys; CUE's json.Marshal keeps that order and does not
// escape <, > and & as Go's json.Marshal does.
func podSpecHash(t *testing.T, podSpec any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(podSpec))
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return hex.EncodeToString(sum[:])[:10]
}

// TestRolloutPodTemplateHash: the hash that recognises a pod template again
// is the one the provider and the design compute, for specs with characters
// JSON encoders treat differently; with nothing live the version is v1.
func TestRolloutPodTemplateHash(t *testing.T) {
	defs := allDefinitions(t)
	container := func(image string, command ...any) map[string]any {
		c := map[string]any{"name": "reviews", "image": image, "ports": []any{map[string]any{"containerPort": 9080}}}
		if len(command) > 0 {
			c["command"] = command
		}
		return c
	}
	cases := []struct {
		name      string
		container map[string]any
	}{
		{"v2 image", container("docker.io/istio/examples-bookinfo-reviews-v2:1.16.2")},
		{"v2 image again", container("docker.io/istio/examples-bookinfo-reviews-v2:1.16.2")},
		{"v3 image", container("docker.io/istio/examples-bookinfo-reviews-v3:1.16.2")},
		{"shell command", container("docker.io/istio/examples-bookinfo-reviews-v3:1.16.2", "sh", "-c", "test -d /tmp && exec /opt/start <&0")},
	}
	hashes := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			podSpec := map[string]any{"containers": []any{tc.container}}
			ctx := deepMerge(defaultContext(t), map[string]any{"output": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": podSpec}}}})
			c := newComponent(ctx)
			want := podSpecHash(t, c.Workload["spec"].(map[string]any)["template"].(map[string]any)["spec"])
			res, err := renderTrait(defs["rollout"], map[string]any{"targetSize": 2}, c)
			require.NoError(t, err)
			meta := res.Workload["metadata"].(map[string]any)
			annotations := meta["annotations"].(map[string]any)
			assert.Equal(t, want, annotations["canary.oam.dev/pod-template-hash"])
			assert.Equal(t, "reviews-v1", meta["name"], "nothing live: the first version")
			assert.JSONEq(t, fmt.Sprintf(`{"v1": %q}`, want), annotations["canary.oam.dev/versions"].(string))
			hashes[tc.name] = want

			c = newComponent(ctx)
			res, err = renderTrait(defs["rollout"], map[string]any{"targetSize": 2, "version": "v9"}, c)
			require.NoError(t, err)
			meta = res.Workload["metadata"].(map[string]any)
			assert.Equal(t, "reviews-v9", meta["name"])
			assert.Equal(t, want, meta["annotations"].(map[string]any)["canary.oam.dev/pod-template-hash"], "an explicit version keeps the hash")
		})
	}
	assert.Equal(t, hashes["v2 image"], hashes["v2 image again"], "the same pod spec gives the same hash")
	assert.NotEqual(t, hashes["v2 image"], hashes["v3 image"], "another image gives another hash")
	assert.NotEqual(t, hashes["v3 image"], hashes["shell command"], "another command gives another hash")
}

// renderInOrder renders the case's component with the given traits in order
// and returns it: workload and outputs as vela would apply them.
func renderInOrder(t *testing.T, defs map[string]*definition, tc traitCase, traits []caseTrait) (*component, error) {
	t.Helper()
	c := caseComponent(t, tc, traits)
	for _, tr := range traits {
		if _, err := renderCaseTrait(t, defs, tr, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// TestVersionRuleOrderIndependent: for every valid rollout case (its live
// Deployments, pod spec and properties), canary-traffic listed before
// rollout renders what it renders listed after, and its subset and route
// name the version rollout gives the pods.
func TestVersionRuleOrderIndependent(t *testing.T) {
	defs := allDefinitions(t)
	traffic := caseTrait{Type: "canary-traffic", Properties: map[string]any{"port": 9080}}
	n := 0
	for _, file := range caseFiles(t, "rollout") {
		var tc traitCase
		readYAML(t, file, &tc)
		if len(tc.ErrorMentions) > 0 || len(tc.Traits) > 0 {
			continue
		}
		n++
		t.Run(caseName(file), func(t *testing.T) {
			rollout := caseTrait{Type: "rollout", Properties: tc.Properties}
			after, err := renderInOrder(t, defs, tc, []caseTrait{rollout, traffic})
			require.NoError(t, err)
			before, err := renderInOrder(t, defs, tc, []caseTrait{traffic, rollout})
			require.NoError(t, err)
			assert.Equal(t, after.Workload, before.Workload, "the Deployment")
			assert.Equal(t, after.Outputs, before.Outputs, "canary-traffic's objects")

			meta := before.Workload["metadata"].(map[string]any)
			version := meta["labels"].(map[string]any)["canary.oam.dev/version"]
			subset := before.Outputs["destinationRule"].(map[string]any)["spec"].(map[string]any)["subsets"].([]any)[0].(map[string]any)
			assert.Equal(t, version, subset["name"], "the subset is the pods' version")
			route := before.Outputs["virtualService"].(map[string]any)["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["route"].([]any)[0].(map[string]any)
			assert.Equal(t, version, route["destination"].(map[string]any)["subset"], "the route goes to the pods' version")
		})
	}
	require.NotZero(t, n, "no valid rollout case to check")
}

// TestVersionRuleListFilter: both traits list only the Deployments of their
// own component, app and namespace; two namespaces that hold the same app
// and component must not see each other's versions.
func TestVersionRuleListFilter(t *testing.T) {
	defs := allDefinitions(t)
	for _, where := range []struct{ namespace, app, component string }{
		{"default", "book-info", "reviews"},
		{"staging", "book-info", "reviews"},
		{"staging", "other-app", "ratings"},
	} {
		t.Run(fmt.Sprintf("%s/%s/%s", where.namespace, where.app, where.component), func(t *testing.T) {
			tc := traitCase{Context: map[string]any{"namespace": where.namespace, "appName": where.app, "name": where.component}}
			traits := []caseTrait{
				{Type: "canary-traffic", Properties: map[string]any{"port": 9080}},
				{Type: "rollout", Properties: map[string]any{"targetSize": 2}},
			}
			c := caseComponent(t, tc, traits)
			for _, tr := range traits {
				res, err := renderTrait(defs[tr.Type], tr.Properties, c)
				require.NoError(t, err)
				require.Len(t, res.Calls, 1, "%s lists the live Deployments once", tr.Type)
				call := res.Calls[0]
				assert.Equal(t, "kube", call.Provider)
				assert.Equal(t, "list", call.Do)
				assert.Equal(t, map[string]any{
					"cluster":  "",
					"resource": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment"},
					"filter": map[string]any{
						"namespace": where.namespace,
						"matchingLabels": map[string]any{
							"app.oam.dev/name":      where.app,
							"app.oam.dev/component": where.component,
						},
					},
				}, call.Params, "%s's list", tr.Type)
			}
		})
	}
}

// TestRolloutPatchExportsValues: vela applies a trait's patch by exporting
// it as CUE and building that text again on its own (kubevela/workflow
// sets.StrategyUnify). The rule's results must export as values: an
// expression in the export (a call, an import, a let) would be evaluated
// again apart from the template, a path nothing else in vela takes.
func TestRolloutPatchExportsValues(t *testing.T) {
	defs := allDefinitions(t)
	for _, file := range caseFiles(t, "rollout") {
		var tc traitCase
		readYAML(t, file, &tc)
		if len(tc.ErrorMentions) > 0 {
			continue
		}
		t.Run(caseName(file), func(t *testing.T) {
			c := caseComponent(t, tc, append(append([]caseTrait{}, tc.Traits...), caseTrait{Type: "rollout", Properties: tc.Properties}))
			for _, tr := range tc.Traits {
				_, err := renderCaseTrait(t, defs, tr, c)
				require.NoError(t, err)
			}
			src := defs["rollout"].Template + "\nparameter: " + mustJSON(t, tc.Properties) + "\n"
			ctxFile, err := c.contextFile()
			require.NoError(t, err)
			val, _, err := compileTrait(src+ctxFile, c.Cluster)
			require.NoError(t, err)
			patch := val.LookupPath(cue.ParsePath("patch"))
			found := map[string]bool{}
			ast.Walk(patch.Syntax(cue.Docs(true), cue.ResolveReferences(true)), func(n ast.Node) bool { //nolint:staticcheck // as vela re-exports a patch
				switch x := n.(type) {
				case *ast.CallExpr, *ast.ImportDecl, *ast.LetClause, *ast.Comprehension:
					found[fmt.Sprintf("%T", x)] = true
				}
				return true
			}, nil)
			assert.Empty(t, found, "the patch exports expressions, not values")
		})
	}
}
