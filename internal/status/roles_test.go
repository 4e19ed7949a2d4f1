package status

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/istio-canary/istio-canary/internal/contract"
)

func TestDecideRoles(t *testing.T) {
	t1 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(24 * time.Hour)
	t3 := t2.Add(24 * time.Hour)
	v1 := Candidate{Version: "v1", AppRevision: "app-v1", Created: t1, Weight: 90}
	v2 := Candidate{Version: "v2", AppRevision: "app-v2", Created: t2, Weight: 10}
	cases := []struct {
		name   string
		ann    map[string]string
		cands  []Candidate
		latest string
		want   Roles
	}{
		{"annotations win over revisions", map[string]string{contract.AnnotationStable: "v2", contract.AnnotationCanary: "v1"},
			[]Candidate{v1, v2}, "app-v2", Roles{"v2", "v1", "annotations"}},
		{"annotations name a version without Deployment", map[string]string{contract.AnnotationStable: "v1", contract.AnnotationCanary: "v2"},
			[]Candidate{v2}, "app-v2", Roles{"v1", "v2", "annotations"}},
		{"canary equal to stable means no canary", map[string]string{contract.AnnotationStable: "v2", contract.AnnotationCanary: "v2"},
			[]Candidate{v2}, "", Roles{"v2", "", "annotations"}},
		{"canary without stable is the only version", map[string]string{contract.AnnotationCanary: "v1", contract.AnnotationPhase: "completed"},
			[]Candidate{v1}, "app-v1", Roles{"v1", "", "annotations"}},
		{"no Deployment", nil, nil, "app-v1", Roles{Source: "none"}},
		{"one Deployment is stable", nil, []Candidate{v2}, "app-v2", Roles{"v2", "", "single"}},
		{"canary is the latest revision", nil, []Candidate{v2, v1}, "app-v2", Roles{"v1", "v2", "appRevision"}},
		{"latest revision decides even when older", nil,
			[]Candidate{{Version: "v1", AppRevision: "app-v3", Created: t1}, {Version: "v2", AppRevision: "app-v2", Created: t2, Weight: 100}},
			"app-v3", Roles{"v2", "v1", "appRevision"}},
		{"no revision match: traffic before age", nil,
			[]Candidate{{Version: "old", Created: t1}, {Version: "new", Created: t2, Weight: 100}},
			"app-v9", Roles{"new", "old", "traffic"}},
		{"no revision match: both with traffic, older is stable", nil,
			[]Candidate{{Version: "b", Created: t2, Weight: 50}, {Version: "a", Created: t1, Weight: 50}},
			"", Roles{"a", "b", "traffic"}},
		{"two match the revision: traffic and age decide", nil,
			[]Candidate{{Version: "b", AppRevision: "r", Created: t2, Weight: 10}, {Version: "a", AppRevision: "r", Created: t1, Weight: 90}},
			"r", Roles{"a", "b", "traffic"}},
		{"three without revision: canary is the newest of the rest", nil,
			[]Candidate{{Version: "a", Created: t1, Weight: 100}, {Version: "c", Created: t3}, {Version: "b", Created: t2}},
			"", Roles{"a", "c", "traffic"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, DecideRoles(tc.ann, tc.cands, tc.latest))
		})
	}
}
