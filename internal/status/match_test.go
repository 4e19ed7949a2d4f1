package status

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
)

func exact(s string) *networkingv1alpha3.StringMatch {
	return &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Exact{Exact: s}}
}

func prefix(s string) *networkingv1alpha3.StringMatch {
	return &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Prefix{Prefix: s}}
}

func regex(s string) *networkingv1alpha3.StringMatch {
	return &networkingv1alpha3.StringMatch{MatchType: &networkingv1alpha3.StringMatch_Regex{Regex: s}}
}

type headers = map[string]*networkingv1alpha3.StringMatch

func TestDescribeMatch(t *testing.T) {
	cases := []struct {
		name string
		m    *networkingv1alpha3.HTTPMatchRequest
		want string
	}{
		{"empty entry matches every request", &networkingv1alpha3.HTTPMatchRequest{}, "any request"},
		{"nil entry", nil, "any request"},
		{"name and stat prefix are no conditions", &networkingv1alpha3.HTTPMatchRequest{Name: "beta", StatPrefix: "beta"}, "any request"},
		{"exact", &networkingv1alpha3.HTTPMatchRequest{Headers: headers{"x-canary": exact("true")}}, "header x-canary = true"},
		{"prefix", &networkingv1alpha3.HTTPMatchRequest{Uri: prefix("/api")}, "uri prefix /api"},
		{"regex", &networkingv1alpha3.HTTPMatchRequest{Headers: headers{"cookie": regex("^(.*?;)?(user=test)(;.*)?$")}}, "header cookie ~ ^(.*?;)?(user=test)(;.*)?$"},
		{"exact empty value", &networkingv1alpha3.HTTPMatchRequest{Headers: headers{"x-canary": exact("")}}, `header x-canary = ""`},
		{"header without a value: present", &networkingv1alpha3.HTTPMatchRequest{Headers: headers{"x-canary": {}}}, "header x-canary present"},
		{"header nil: present", &networkingv1alpha3.HTTPMatchRequest{Headers: headers{"x-canary": nil}}, "header x-canary present"},
		{"query", &networkingv1alpha3.HTTPMatchRequest{QueryParams: headers{"tester": exact("yes")}}, "query tester = yes"},
		{"query without a value: present", &networkingv1alpha3.HTTPMatchRequest{QueryParams: headers{"tester": {}}}, "query tester present"},
		{"method", &networkingv1alpha3.HTTPMatchRequest{Method: exact("GET")}, "method = GET"},
		{"scheme and authority", &networkingv1alpha3.HTTPMatchRequest{Scheme: exact("https"), Authority: prefix("beta.")}, "scheme = https and authority prefix beta."},
		{"uri without a match type is no condition", &networkingv1alpha3.HTTPMatchRequest{Uri: &networkingv1alpha3.StringMatch{}}, "any request"},
		{"ignore uri case", &networkingv1alpha3.HTTPMatchRequest{Uri: exact("/Beta"), IgnoreUriCase: true}, "uri = /Beta (ignoring case)"},
		{"ignore uri case without uri", &networkingv1alpha3.HTTPMatchRequest{IgnoreUriCase: true}, "any request"},
		{"without header", &networkingv1alpha3.HTTPMatchRequest{WithoutHeaders: headers{"x-legacy": exact("1")}}, "without header x-legacy = 1"},
		{"without header, no value", &networkingv1alpha3.HTTPMatchRequest{WithoutHeaders: headers{"x-legacy": {}}}, "without header x-legacy"},
		{"port", &networkingv1alpha3.HTTPMatchRequest{Port: 9080}, "port = 9080"},
		{"source", &networkingv1alpha3.HTTPMatchRequest{SourceLabels: map[string]string{"version": "v1", "app": "productpage"}, SourceNamespace: "web"},
			"source label app = productpage and source label version = v1 and source namespace = web"},
		{"one gateway", &networkingv1alpha3.HTTPMatchRequest{Gateways: []string{"mesh"}}, "gateway = mesh"},
		{"gateways", &networkingv1alpha3.HTTPMatchRequest{Gateways: []string{"mesh", "ingress"}}, "gateway one of mesh, ingress"},
		{"two conditions", &networkingv1alpha3.HTTPMatchRequest{Uri: prefix("/beta"), Headers: headers{"x-user": regex("^test")}}, "uri prefix /beta and header x-user ~ ^test"},
		{"headers sorted", &networkingv1alpha3.HTTPMatchRequest{Headers: headers{"x-b": exact("2"), "x-a": exact("1")}}, "header x-a = 1 and header x-b = 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, describeMatch(tc.m))
		})
	}
}

func TestNewMatchesAndMirror(t *testing.T) {
	dst := func(subset string) []*networkingv1alpha3.HTTPRouteDestination {
		return []*networkingv1alpha3.HTTPRouteDestination{{Destination: &networkingv1alpha3.Destination{Host: "reviews", Subset: subset}}}
	}
	weighted := &networkingv1alpha3.HTTPRoute{Name: "canary-traffic", Route: dst("v1")}
	spec := func(http ...*networkingv1alpha3.HTTPRoute) *networkingv1alpha3.VirtualService {
		return &networkingv1alpha3.VirtualService{Http: http}
	}

	assert.Nil(t, newMatches(spec(weighted)), "no match route")
	assert.Nil(t, newMirror(spec(weighted)), "no mirror")
	assert.Equal(t, &Matches{"v2", []string{"any request"}},
		newMatches(spec(&networkingv1alpha3.HTTPRoute{Name: "canary-match", Route: dst("v2")}, weighted)),
		"a match route without entries takes every request")
	assert.Equal(t, &Matches{"v2", []string{"method = GET", "any request"}},
		newMatches(spec(&networkingv1alpha3.HTTPRoute{Name: "canary-match", Route: dst("v2"),
			Match: []*networkingv1alpha3.HTTPMatchRequest{{Method: exact("GET")}, {}}}, weighted)),
		"one description an entry")

	mirrored := &networkingv1alpha3.HTTPRoute{Name: "canary-traffic", Route: dst("v1"),
		Mirror: &networkingv1alpha3.Destination{Host: "reviews", Subset: "v2"}}
	assert.Equal(t, &Mirror{"v2", 100}, newMirror(spec(mirrored)), "without a percentage Istio mirrors all")
	mirrored.MirrorPercentage = &networkingv1alpha3.Percent{Value: 2.5}
	assert.Equal(t, &Mirror{"v2", 2.5}, newMirror(spec(mirrored)))
}

func TestRenderRouting(t *testing.T) {
	c := Component{
		Versions: []Version{{Name: "v1", Role: RoleStable, Weight: 100}, {Name: "v2", Role: RoleCanary}},
		Routes:   []Route{{Subset: "v1", Weight: 100}},
	}
	render := func(c Component) string {
		var b strings.Builder
		renderRouting(&b, painter{}, c)
		return b.String()
	}
	assert.Empty(t, render(c), "weights alone: nothing under the bar")

	c.Mirror = &Mirror{Version: "v2", Percent: 0}
	assert.Empty(t, render(c), "a 0% mirror copies nothing")

	c.Mirror = &Mirror{Version: "v3", Percent: 0.5}
	assert.Equal(t, "  mirror   0.5% of v1's requests copied to v3 (answers discarded)\n", render(c))

	c.Mirror = nil
	c.Matches = &Matches{Version: "", Conditions: []string{"method = GET", "any request"}}
	assert.Equal(t, "  matches  → (no subset): method = GET\n           → (no subset): any request\n", render(c))
}
