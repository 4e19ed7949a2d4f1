package contract

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDecideRoles(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2025, 1, n, 0, 0, 0, 0, time.UTC) }
	ver := func(name string, weight, ready, created int, revision string) Version {
		return Version{Name: name, Weight: weight, Ready: ready, Created: day(created), AppRevision: revision}
	}
	// v2 is the canary; its Deployment records v3 as the stable version
	// for revision rev.
	recordedOnCanary := func(rev string) Version {
		v := ver("v2", 0, 0, 4, "r5")
		v.RunStable, v.RunRevision = "v3", rev
		return v
	}
	for _, tc := range []struct {
		name string
		in   Live
		want Roles
	}{
		{"the rendered version is the canary, the one with traffic the stable",
			Live{Rendered: "v2", Versions: []Version{ver("v1", 100, 2, 1, "r1"), ver("v2", 0, 1, 2, "r2")}},
			Roles{"v1", "v2", SourceRendered}},
		{"the rendered version alone has nothing to move from",
			Live{Rendered: "v1", Versions: []Version{ver("v1", 0, 0, 1, "r1")}},
			Roles{"", "v1", SourceRendered}},
		{"the recording about the rendered canary names the stable",
			Live{Rendered: "v2", Recorded: Recorded{"v1", "v2"}, Versions: []Version{ver("v0", 0, 0, 1, "r0"), ver("v1", 0, 0, 2, "r1"), ver("v2", 100, 2, 3, "r2")}},
			Roles{"v1", "v2", SourceAnnotations}},
		{"a recording about an earlier canary does not count",
			Live{Rendered: "v3", Recorded: Recorded{"v1", "v2"}, Versions: []Version{ver("v1", 0, 0, 1, "r1"), ver("v2", 100, 2, 2, "r2")}},
			Roles{"v2", "v3", SourceRendered}},
		{"traffic before readiness",
			Live{Rendered: "v3", Versions: []Version{ver("v1", 0, 3, 1, ""), ver("v2", 100, 1, 2, "")}},
			Roles{"v2", "v3", SourceRendered}},
		{"without traffic, a version with ready instances before an older one without",
			Live{Rendered: "v3", Versions: []Version{ver("v1", 0, 0, 1, ""), ver("v2", 0, 2, 2, "")}},
			Roles{"v2", "v3", SourceRendered}},
		{"both serving: the older",
			Live{Rendered: "v3", Versions: []Version{ver("v2", 50, 2, 2, ""), ver("v1", 50, 1, 1, "")}},
			Roles{"v1", "v3", SourceRendered}},
		{"same age: more ready instances, then the name",
			Live{Rendered: "v3", Versions: []Version{ver("b", 0, 1, 1, ""), ver("c", 0, 2, 1, ""), ver("a", 0, 1, 1, "")}},
			Roles{"c", "v3", SourceRendered}},
		{"the canary's record of this revision names the stable until a route records the roles",
			Live{Rendered: "v2", LatestRevision: "r5", Versions: []Version{ver("v1", 0, 2, 1, "r1"), ver("v3", 0, 1, 3, "r3"), recordedOnCanary("r5")}},
			Roles{"v3", "v2", SourceAnnotations}},
		{"a record of another revision is about another run",
			Live{Rendered: "v2", LatestRevision: "r6", Versions: []Version{ver("v1", 0, 2, 1, "r1"), ver("v3", 0, 1, 3, "r3"), recordedOnCanary("r5")}},
			Roles{"v1", "v2", SourceRendered}},
		{"the route's recording comes before the canary's record",
			Live{Rendered: "v2", LatestRevision: "r5", Recorded: Recorded{"v1", "v2"}, Versions: []Version{ver("v1", 0, 2, 1, "r1"), ver("v3", 0, 1, 3, "r3"), recordedOnCanary("r5")}},
			Roles{"v1", "v2", SourceAnnotations}},
		{"a reader: the canary's record of the latest revision",
			Live{LatestRevision: "r5", Versions: []Version{ver("v1", 0, 2, 1, "r1"), ver("v3", 0, 1, 3, "r3"), recordedOnCanary("r5")}},
			Roles{"v3", "v2", SourceAnnotations}},
		{"a reader: the recording names both",
			Live{LatestRevision: "r2", Recorded: Recorded{"v1", "v2"}, Versions: []Version{ver("v1", 90, 1, 1, "r1"), ver("v2", 10, 1, 2, "r2")}},
			Roles{"v1", "v2", SourceAnnotations}},
		{"a reader: a rollback applied the stable version under the latest revision",
			Live{LatestRevision: "r3", Recorded: Recorded{"v1", "v2"}, Versions: []Version{ver("v1", 100, 1, 1, "r3"), ver("v2", 0, 1, 2, "r2")}},
			Roles{"v1", "v2", SourceAnnotations}},
		{"a reader: the latest revision applied a version the recording does not name",
			Live{LatestRevision: "r3", Recorded: Recorded{"v1", "v2"}, Versions: []Version{ver("v2", 100, 2, 2, "r2"), ver("v3", 0, 0, 3, "r3")}},
			Roles{"v2", "v3", SourceAppRevision}},
		{"a reader: one version",
			Live{LatestRevision: "r1", Versions: []Version{ver("v1", 100, 2, 1, "r1")}},
			Roles{"", "v1", SourceSingle}},
		{"a reader: nothing", Live{}, Roles{Source: SourceNone}},
		{"a reader without any hint: the canary is the newest of the rest",
			Live{Versions: []Version{ver("a", 100, 1, 1, ""), ver("c", 0, 0, 3, ""), ver("b", 0, 0, 2, "")}},
			Roles{"a", "c", SourceTraffic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, DecideRoles(tc.in))
		})
	}
}
