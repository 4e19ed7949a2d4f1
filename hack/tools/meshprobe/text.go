package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Text is the result in a few lines for people: what reached each version,
// the weights Istio carries, and what the analyzers found.
func (r *Result) Text() string {
	var b strings.Builder
	total := r.Failed
	for _, n := range r.Measured {
		total += n
	}
	var reached []string
	for i, v := range sortedKeys(r.Measured) {
		if i == 0 {
			reached = append(reached, fmt.Sprintf("%s of %s requests reached %s", thousands(r.Measured[v]), thousands(total), versionName(v)))
		} else {
			reached = append(reached, fmt.Sprintf("%s reached %s", thousands(r.Measured[v]), versionName(v)))
		}
	}
	if len(reached) == 0 {
		reached = append(reached, fmt.Sprintf("none of %s requests reached a version", thousands(total)))
	}
	fmt.Fprintf(&b, "measured: %s; %d failed\n", strings.Join(reached, ", "), r.Failed)
	fmt.Fprintf(&b, "Istio's route: %s (declared: %s)\n", percents(r.Istio), percents(r.Declared))
	if r.DeclaredMirror != nil || r.IstioMirror != nil {
		fmt.Fprintf(&b, "Istio's mirror: %s (declared: %s); mirrored requests' answers are discarded, not measured\n", mirrorText(r.IstioMirror), mirrorText(r.DeclaredMirror))
	}
	for _, g := range r.Gateways {
		b.WriteString(gatewayText(g))
	}
	var problems []string
	for _, m := range r.Analyzers {
		if m.Level == "Warning" || m.Level == "Error" {
			problems = append(problems, fmt.Sprintf("  %s %s %s: %s", m.Level, m.Code, m.Resource, m.Message))
		}
	}
	if len(problems) == 0 {
		fmt.Fprintf(&b, "Istio's analyzers: no warning or error\n")
	} else {
		fmt.Fprintf(&b, "Istio's analyzers:\n%s\n", strings.Join(problems, "\n"))
	}
	return b.String()
}

// gatewayText is a gateway route's line; a delegate's route is named in the
// delegate, after the VirtualService that delegates to it.
func gatewayText(g GatewayRoute) string {
	switch {
	case g.DelegateMissing:
		return fmt.Sprintf("gateway %s, %s route %s: delegate %s not found, Istio drops the route\n", g.Gateway, g.VirtualService, g.Route, g.Delegate)
	case g.Delegate != "":
		return fmt.Sprintf("gateway %s, %s delegate %s route %s: %s (declared: %s)\n", g.Gateway, g.VirtualService, g.Delegate, g.Route, percents(g.Istio), percents(g.Declared))
	}
	return fmt.Sprintf("gateway %s, %s route %s: %s (declared: %s)\n", g.Gateway, g.VirtualService, g.Route, percents(g.Istio), percents(g.Declared))
}

func mirrorText(m *Mirror) string {
	if m == nil {
		return "none"
	}
	return fmt.Sprintf("%g%% to %s", m.Percent, m.Version)
}

// versionName names a measured version; "" are the answers of pods without
// a version label.
func versionName(v string) string {
	if v == "" {
		return "pods without a version label"
	}
	return v
}

func percents(weights map[string]int) string {
	if len(weights) == 0 {
		return "none"
	}
	var parts []string
	for _, v := range sortedKeys(weights) {
		parts = append(parts, fmt.Sprintf("%s %d%%", v, weights[v]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

// thousands writes n with a comma between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
