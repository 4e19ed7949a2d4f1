package render

import (
	"encoding/json"
	"fmt"
	"strings"

	"cuelang.org/go/cue"
)

// cluster is the live state that provider calls made while a trait renders
// read: vela compiles trait templates with its WorkloadCompiler, which
// resolves kube.#List against the cluster before the trait's result is used.
type cluster struct {
	// Deployments are the live Deployments, in every namespace.
	Deployments []map[string]any
	// ListError, when set, makes every list fail with this message.
	ListError string
}

// listParams is what kubevela/pkg's kube provider decodes a list call into
// (ListParams: the whole call as JSON). Resource is an Unstructured there,
// which insists on apiVersion and kind.
type listParams struct {
	Params struct {
		Cluster string `json:"cluster"`
		Filter  *struct {
			Namespace      string            `json:"namespace,omitempty"`
			MatchingLabels map[string]string `json:"matchingLabels,omitempty"`
		} `json:"filter,omitempty"`
		Resource map[string]any `json:"resource"`
	} `json:"$params"`
}

// resolveWorkload is cuex.Compiler.Resolve with the providers of vela's
// WorkloadCompiler that the addon's traits use: it calls each provider
// function in turn, fills its $returns, and stops at the first failure. It
// returns the resolved value and the calls made.
func resolveWorkload(val cue.Value, cl *cluster) (cue.Value, []call, error) {
	calls := []call{}
	executed := map[string]bool{}
	for {
		next := nextCall(val, executed)
		if next == nil {
			return val, calls, nil
		}
		prd, do := callKey(*next)
		c := call{Path: next.Path().String(), Provider: prd, Do: do}
		if prd != "kube" {
			return val, append(calls, c), fmt.Errorf("provider %s not found", prd)
		}
		if do != "list" {
			return val, append(calls, c), fmt.Errorf("function %s not found in provider %s (the simulator has no fake for it)", do, prd)
		}
		returns, record, params, err := cl.list(*next)
		c.Params, c.Returns = params, record
		calls = append(calls, c)
		if err != nil {
			return val, calls, functionCallError(*next, err)
		}
		// An in-process provider's Go answer: its integers stay integers.
		b, err := json.Marshal(map[string]any{"$returns": returns})
		if err != nil {
			return val, calls, err
		}
		val = val.FillPath(next.Path(), next.Context().CompileBytes(b))
		executed[next.Path().String()] = true
	}
}

// list answers kube.#List as kubevela/pkg's provider does: the call as JSON
// must decode into its parameters; the answer is the UnstructuredList the
// client fills, {apiVersion, kind: <Kind>List, metadata, items}. It also
// returns the $params to record and a summary of the answer.
func (cl *cluster) list(v cue.Value) (returns map[string]any, record string, params map[string]any, err error) {
	if pb, err := v.LookupPath(cue.ParsePath("$params")).MarshalJSON(); err == nil {
		_ = json.Unmarshal(pb, &params)
	}
	b, err := v.MarshalJSON()
	if err != nil {
		return nil, "", params, err
	}
	var in listParams
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, "", params, err
	}
	res := in.Params.Resource
	apiVersion, _ := res["apiVersion"].(string)
	kind, _ := res["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, "", params, fmt.Errorf("Object 'Kind' or 'apiVersion' is missing in %s", mustMarshal(res))
	}
	if cl == nil {
		cl = &cluster{}
	}
	if cl.ListError != "" {
		return nil, "", params, fmt.Errorf("%s", cl.ListError)
	}
	if apiVersion != "apps/v1" || kind != "Deployment" {
		return nil, "", params, fmt.Errorf("the simulator's cluster holds only apps/v1 Deployments, not %s %s", apiVersion, kind)
	}
	items := []any{}
	var names []string
	for _, d := range cl.Deployments {
		meta, _ := d["metadata"].(map[string]any)
		if f := in.Params.Filter; f != nil {
			if f.Namespace != "" && meta["namespace"] != f.Namespace {
				continue
			}
			labels, _ := meta["labels"].(map[string]any)
			matches := true
			for k, want := range f.MatchingLabels {
				if labels[k] != want {
					matches = false
				}
			}
			if !matches {
				continue
			}
		}
		item := map[string]any{"apiVersion": apiVersion, "kind": kind}
		for k, val := range d {
			item[k] = val
		}
		items = append(items, item)
		names = append(names, fmt.Sprintf("%v/%v", meta["namespace"], meta["name"]))
	}
	record = "no Deployment"
	if len(names) > 0 {
		record = "Deployments " + strings.Join(names, ", ")
	}
	return map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind + "List",
		"metadata":   map[string]any{"resourceVersion": "1"},
		"items":      items,
	}, record, params, nil
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
