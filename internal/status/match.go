package status

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// Matches are the requests the steps' match route sends to one version
// whatever the weights.
type Matches struct {
	Version string
	// Conditions describe the route's match entries, one per entry: a
	// request that meets any one of them goes to Version.
	Conditions []string
}

// Mirror is the share of the weighted route's requests that Istio also
// sends to a version, whose answers it discards.
type Mirror struct {
	Version string
	// Percent is from 0 to 100.
	Percent float64
}

// newMatches reads the steps' match route into plain text, so that the
// view stays plain data that the watch can compare; nil when there is none.
func newMatches(spec *networkingv1alpha3.VirtualService) *Matches {
	m := contract.ReadMatches(spec)
	if m == nil {
		return nil
	}
	out := &Matches{Version: m.Version}
	for _, e := range m.Match {
		out.Conditions = append(out.Conditions, describeMatch(e))
	}
	if len(out.Conditions) == 0 {
		// Istio sends every request to a route without a match.
		out.Conditions = []string{anyRequest}
	}
	return out
}

// newMirror reads the mirror of the weighted route; nil when there is none.
func newMirror(spec *networkingv1alpha3.VirtualService) *Mirror {
	m := contract.ReadMirror(spec)
	if m == nil {
		return nil
	}
	return &Mirror{Version: m.Version, Percent: m.Percent}
}

// anyRequest describes a match entry without conditions: Istio matches
// every request with it.
const anyRequest = "any request"

// describeMatch is a short human description of one of Istio's match
// entries, its conditions joined with " and " (a request must meet all of
// them). The order is fixed, and map keys sorted, so that the view does not
// change from one read to the next.
func describeMatch(m *networkingv1alpha3.HTTPMatchRequest) string {
	var parts []string
	add := func(s string) { parts = append(parts, s) }
	if s, ok := stringMatch(m.GetUri()); ok {
		if m.GetIgnoreUriCase() {
			s += " (ignoring case)"
		}
		add("uri " + s)
	}
	for _, f := range []struct {
		name string
		sm   *networkingv1alpha3.StringMatch
	}{{"scheme", m.GetScheme()}, {"method", m.GetMethod()}, {"authority", m.GetAuthority()}} {
		if s, ok := stringMatch(f.sm); ok {
			add(f.name + " " + s)
		}
	}
	// A header or query parameter without a value to match is matched on
	// being there; in withoutHeaders, on not being there.
	eachKey(m.GetHeaders(), func(k string, sm *networkingv1alpha3.StringMatch) {
		add(keyed("header "+k, sm, "present"))
	})
	eachKey(m.GetWithoutHeaders(), func(k string, sm *networkingv1alpha3.StringMatch) {
		add(keyed("without header "+k, sm, ""))
	})
	eachKey(m.GetQueryParams(), func(k string, sm *networkingv1alpha3.StringMatch) {
		add(keyed("query "+k, sm, "present"))
	})
	if p := m.GetPort(); p != 0 {
		add(fmt.Sprintf("port = %d", p))
	}
	labels := m.GetSourceLabels()
	for _, k := range sortedKeys(labels) {
		add("source label " + k + " = " + quoteEmpty(labels[k]))
	}
	if ns := m.GetSourceNamespace(); ns != "" {
		add("source namespace = " + ns)
	}
	switch gw := m.GetGateways(); len(gw) {
	case 0:
	case 1:
		add("gateway = " + gw[0])
	default:
		add("gateway one of " + strings.Join(gw, ", "))
	}
	if len(parts) == 0 {
		return anyRequest
	}
	return strings.Join(parts, " and ")
}

// stringMatch is an Istio string match as an operator and its value:
// "= v" exact, "prefix v", "~ v" regex (RE2). ok is false when it matches
// nothing in particular (nil, or none of the three).
func stringMatch(sm *networkingv1alpha3.StringMatch) (string, bool) {
	switch t := sm.GetMatchType().(type) {
	case *networkingv1alpha3.StringMatch_Exact:
		return "= " + quoteEmpty(t.Exact), true
	case *networkingv1alpha3.StringMatch_Prefix:
		return "prefix " + quoteEmpty(t.Prefix), true
	case *networkingv1alpha3.StringMatch_Regex:
		return "~ " + quoteEmpty(t.Regex), true
	}
	return "", false
}

// keyed describes a condition on a named header or parameter; bare is
// written after what when the condition has no value to match.
func keyed(what string, sm *networkingv1alpha3.StringMatch, bare string) string {
	if s, ok := stringMatch(sm); ok {
		return what + " " + s
	}
	if bare == "" {
		return what
	}
	return what + " " + bare
}

// quoteEmpty quotes an empty value, which would otherwise not show.
func quoteEmpty(s string) string {
	if s == "" {
		return strconv.Quote(s)
	}
	return s
}

func eachKey(m map[string]*networkingv1alpha3.StringMatch, f func(string, *networkingv1alpha3.StringMatch)) {
	for _, k := range sortedKeys(m) {
		f(k, m[k])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
