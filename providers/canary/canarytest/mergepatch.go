package canarytest

import (
	"encoding/json"
	"fmt"
)

// mergePatch applies the JSON merge patch (RFC 7386) to old's JSON and
// decodes the result into patched, a zero object, as client-go's fake does.
func mergePatch(old any, patch []byte, patched any) error {
	raw, err := json.Marshal(old)
	if err != nil {
		return err
	}
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return fmt.Errorf("decode merge patch: %w", err)
	}
	if m, ok := p.(map[string]any); ok && objectsAndValues(m) {
		// A patch of nothing but objects and values sets members of objects,
		// and so does decoding it over the decoded object, in a fraction of
		// the time, which counts where Scale runs in every fuzz execution.
		// (A null removes a member, and decoding an array of objects reuses
		// the old elements; decoding would also replace an element of a map
		// of objects, which the merge merges, but Deployments have none.)
		if err := json.Unmarshal(raw, patched); err != nil {
			return err
		}
		return json.Unmarshal(patch, patched)
	}
	return mergeJSON(raw, p, patched)
}

// objectsAndValues reports whether an object holds only objects and values
// other than null and arrays, at any depth.
func objectsAndValues(m map[string]any) bool {
	for _, v := range m {
		switch v := v.(type) {
		case nil, []any:
			return false
		case map[string]any:
			if !objectsAndValues(v) {
				return false
			}
		}
	}
	return true
}

// mergeJSON merges patch into the JSON document raw and decodes the result
// into patched.
func mergeJSON(raw []byte, patch any, patched any) error {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	merged, err := json.Marshal(merge(doc, patch))
	if err != nil {
		return err
	}
	return json.Unmarshal(merged, patched)
}

// merge is RFC 7386's MergePatch: an object patches an object member by
// member, null removing one; anything else replaces the target.
func merge(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = merge(t[k], v)
	}
	return t
}
