package status

import (
	"sort"
	"time"
)

// Annotations the canary steps write on the component's VirtualService.
const (
	AnnotationStable = "canary.oam.dev/stable"
	AnnotationCanary = "canary.oam.dev/canary"
	AnnotationPhase  = "canary.oam.dev/phase"
)

// Candidate is what the role decision knows about one live version.
type Candidate struct {
	Version     string
	AppRevision string // label app.oam.dev/appRevision of its Deployment
	Created     time.Time
	Weight      int32
}

// Roles is the outcome of DecideRoles.
type Roles struct {
	Stable string
	Canary string
	// Source: "annotations", "none", "single", "appRevision" or "traffic".
	Source string
}

// DecideRoles tells which version is stable and which is canary.
//
// The VirtualService annotations canary.oam.dev/stable and canary.oam.dev/canary
// decide when present (a canary without stable is the only version, so stable). Otherwise one Deployment is stable with no canary; with two
// or more, the canary is the only one whose appRevision is the Application's latest
// revision and the stable is the best of the rest; when the revision does not
// decide, versions with traffic come before those without, older before newer: the
// first is stable and the newest of the rest is canary.
func DecideRoles(annotations map[string]string, cands []Candidate, latestRevision string) Roles {
	if st, ca := annotations[AnnotationStable], annotations[AnnotationCanary]; st != "" || ca != "" {
		if st == "" { // a rollout with nothing to canary against: the only version
			st = ca
		}
		if ca == st {
			ca = ""
		}
		return Roles{Stable: st, Canary: ca, Source: "annotations"}
	}
	switch len(cands) {
	case 0:
		return Roles{Source: "none"}
	case 1:
		return Roles{Stable: cands[0].Version, Source: "single"}
	}
	var latest, rest []Candidate
	for _, c := range cands {
		if latestRevision != "" && c.AppRevision == latestRevision {
			latest = append(latest, c)
		} else {
			rest = append(rest, c)
		}
	}
	if len(latest) == 1 {
		return Roles{Stable: rankStable(rest)[0].Version, Canary: latest[0].Version, Source: "appRevision"}
	}
	ranked := rankStable(cands)
	newest := ranked[1]
	for _, c := range ranked[2:] {
		if c.Created.After(newest.Created) {
			newest = c
		}
	}
	return Roles{Stable: ranked[0].Version, Canary: newest.Version, Source: "traffic"}
}

// rankStable orders candidates: with traffic first, then older first, then by name.
func rankStable(cands []Candidate) []Candidate {
	out := append([]Candidate(nil), cands...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Weight > 0) != (b.Weight > 0) {
			return a.Weight > 0
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.Version < b.Version
	})
	return out
}
