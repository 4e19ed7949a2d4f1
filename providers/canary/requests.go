package canary

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/router"
)

// MirrorSpec is the step's traffic.mirror: the share of the requests of the
// weighted route that Istio copies to the canary, whose answers it discards.
type MirrorSpec struct {
	// Percent is from 0 to 100; 0 stops mirroring.
	Percent float64 `json:"percent"`
}

// checkRequests checks the step's traffic.match and traffic.mirror before
// anything is read, naming the field and the fix. It returns the matches
// as the router reads them back, so that "done" compares like with like;
// nil when the step gives none.
func (in *PlanParams) checkRequests() ([]any, error) {
	var out []any
	if in.Match != nil {
		out = []any{}
	}
	for i, m := range in.Match {
		normal, err := checkMatch(fmt.Sprintf("traffic.match[%d]", i), m)
		if err != nil {
			return nil, err
		}
		out = append(out, normal)
	}
	if in.Mirror != nil && (in.Mirror.Percent < 0 || in.Mirror.Percent > 100) {
		return nil, inputErrorf("traffic.mirror.percent: %v is not between 0 and 100 (0 stops mirroring)", in.Mirror.Percent)
	}
	return out, nil
}

// matchKeys are the keys of a request match: those of Istio's own
// HTTPMatchRequest, read from its descriptor so that they follow Istio.
var matchKeys = func() []string {
	fields := (&networkingv1alpha3.HTTPMatchRequest{}).ProtoReflect().Descriptor().Fields()
	keys := make([]string, 0, fields.Len())
	for i := range fields.Len() {
		keys = append(keys, fields.Get(i).JSONName())
	}
	slices.Sort(keys)
	return keys
}()

// checkMatch checks one request match: Istio's keys only, values of Istio's
// types, at least one condition, and each string match one of exact,
// prefix or regex, a regex that compiles (Istio's are RE2, as Go's). It
// returns the match as Istio's type writes it.
func checkMatch(field string, m map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		return nil, inputErrorf("%s is empty and would match every request; give headers, uri, queryParams, method or another condition (a cookie is a \"cookie\" header regex)", field)
	}
	for k := range m {
		if !slices.Contains(matchKeys, k) {
			return nil, inputErrorf("%s: unknown key %q; use one of %s", field, k, strings.Join(matchKeys, ", "))
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, inputErrorf("%s: %v", field, err)
	}
	var typed networkingv1alpha3.HTTPMatchRequest
	if err := protojson.Unmarshal(raw, &typed); err != nil {
		return nil, inputErrorf("%s: not an Istio request match: %v", field, err)
	}
	var problem error
	typed.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		problem = checkStringMatches(field+"."+fd.JSONName(), fd, v)
		return problem == nil
	})
	if problem != nil {
		return nil, problem
	}
	var normal map[string]any
	if raw, err = json.Marshal(&typed); err == nil {
		err = json.Unmarshal(raw, &normal)
	}
	return normal, err
}

// checkStringMatches checks the StringMatch values of one field of a match:
// the field itself, or each value of a map of them (headers, queryParams).
func checkStringMatches(field string, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	stringMatch := (&networkingv1alpha3.StringMatch{}).ProtoReflect().Descriptor().FullName()
	switch {
	case fd.IsMap() && fd.MapValue().Message() != nil && fd.MapValue().Message().FullName() == stringMatch:
		var err error
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			err = checkStringMatch(field+"."+k.String(), mv.Message().Interface().(*networkingv1alpha3.StringMatch))
			return err == nil
		})
		return err
	case fd.Message() != nil && fd.Message().FullName() == stringMatch:
		return checkStringMatch(field, v.Message().Interface().(*networkingv1alpha3.StringMatch))
	}
	return nil
}

func checkStringMatch(field string, sm *networkingv1alpha3.StringMatch) error {
	switch m := sm.GetMatchType().(type) {
	case nil:
		return inputErrorf("%s: give one of exact, prefix or regex", field)
	case *networkingv1alpha3.StringMatch_Regex:
		if _, err := regexp.Compile(m.Regex); err != nil {
			return inputErrorf("%s.regex: %q is not an RE2 regular expression: %v", field, m.Regex, err)
		}
	}
	return nil
}

// wantRequests is the request routing a rollout step leaves: the step's
// matches and mirror when it gives them, else the live ones as long as they
// serve the same canary (a new version drops the old version's), none once
// the rollout is complete or rolled back.
func (o *observation) wantRequests(d *decision) router.Requests {
	if o.in.Action != ActionRollout || d.phase != contract.PhaseProgressing {
		return router.Requests{}
	}
	canary := o.rendered.Version
	out := router.Requests{Version: canary}
	switch {
	case o.match != nil:
		out.Match = o.match
	case o.requests.Version == canary:
		out.Match = o.requests.Match
	}
	switch {
	case o.in.Mirror != nil:
		if o.in.Mirror.Percent > 0 {
			out.Mirror = &contract.Mirror{Version: canary, Percent: o.in.Mirror.Percent}
		}
	case o.requests.Mirror != nil && o.requests.Mirror.Version == canary:
		out.Mirror = o.requests.Mirror
	}
	return out
}
