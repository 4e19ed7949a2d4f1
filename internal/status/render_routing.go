package status

import (
	"fmt"
	"strconv"
	"strings"
)

// renderRouting writes, under the traffic bar, the requests that go to one
// version whatever the weights and the share of requests mirrored: the bar
// shows the weights only, and they apply to the requests left over. Nothing
// is written when the steps route by weight alone.
func renderRouting(b *strings.Builder, p painter, c Component) {
	if m := c.Matches; m != nil {
		label := "matches"
		for _, cond := range m.Conditions {
			fmt.Fprintf(b, "  %-7s  → %s: %s\n", label, versionLabel(p, c, m.Version), cond)
			label = "" // one entry a line under one label: any one of them matches
		}
	}
	// A mirror of 0% copies nothing, so it is not worth a line.
	if m := c.Mirror; m != nil && m.Percent > 0 {
		fmt.Fprintf(b, "  %-7s  %s%% of %s copied to %s (answers discarded)\n", "mirror",
			strconv.FormatFloat(m.Percent, 'f', -1, 64), mirrored(p, c), versionLabel(p, c, m.Version))
	}
}

// mirrored names the requests a mirror copies, those the weighted route
// takes: one version's when it sends them all to one.
func mirrored(p painter, c Component) string {
	var to []string
	for _, r := range c.Routes {
		if r.Weight > 0 {
			to = append(to, r.Subset)
		}
	}
	if len(to) == 1 {
		return versionLabel(p, c, to[0]) + "'s requests"
	}
	return "the requests split by weight"
}

// versionLabel is a version's name in its role's colour, as in the table.
func versionLabel(p painter, c Component, version string) string {
	if version == "" {
		return p.paint("(no subset)", cyan)
	}
	st := roleStyle(RoleOther)
	if v := c.Version(version); v != nil {
		st = roleStyle(v.Role)
	}
	return p.paint(version, st)
}
