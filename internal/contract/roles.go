package contract

import (
	"sort"
	"time"
)

// Version is what the roles rule knows of one live version of a component.
type Version struct {
	Name string
	// Weight is the share of the traffic the steps' route sends it.
	Weight int
	// Ready counts its ready instances.
	Ready int
	// Created is when its Deployment was created.
	Created time.Time
	// AppRevision is the Application revision that last applied its
	// Deployment (label LabelAppRevision).
	AppRevision string
	// RunStable is the stable version that a rollout step's plan recorded
	// on its Deployment while it was the canary (AnnotationRunStable), and
	// RunRevision the Application revision that step ran for.
	RunStable, RunRevision string
}

// Recorded are the roles the last canary step wrote on the VirtualService.
type Recorded struct {
	Stable, Canary string
}

// RecordedIn reads the recorded roles from the VirtualService's annotations.
func RecordedIn(annotations map[string]string) Recorded {
	return Recorded{Stable: annotations[AnnotationStable], Canary: annotations[AnnotationCanary]}
}

// Live is what a reader knows of a component when it asks which version is
// which. The provider knows the version the Application renders now; the
// status view does not, and knows the Application's latest revision instead.
type Live struct {
	// Versions are the live versions, one per name.
	Versions []Version
	Recorded Recorded
	// Rendered is the version the Application renders now; "" when the
	// reader does not know it.
	Rendered string
	// LatestRevision is the Application's latest revision, for the
	// provider the one its step runs for; "" when unknown.
	LatestRevision string
}

// Source says what decided the roles.
type Source string

// Sources of a decision, in the order the rule tries them.
const (
	SourceRendered    Source = "rendered"    // the version the Application renders is the canary
	SourceAnnotations Source = "annotations" // the roles the last step recorded
	SourceNone        Source = "none"        // no version at all
	SourceSingle      Source = "single"      // the only live version
	SourceAppRevision Source = "appRevision" // the only version the latest revision applied
	SourceTraffic     Source = "traffic"     // traffic, readiness and age
)

// Roles tell the stable version from the canary.
type Roles struct {
	// Stable is the version the rollout moves away from; "" when there is
	// none. It may have no live Deployment (garbage-collected).
	Stable string
	// Canary is the version the Application renders now, as far as the
	// reader can tell; "" when there is no version.
	Canary string
	Source Source
}

// DecideRoles is the one rule for which version is stable and which is
// canary; the provider and the status view both ask it.
//
// The canary is the version the Application renders now. The provider knows
// it. Otherwise it is the canary the steps recorded, unless a version the
// recording does not name was applied by the latest revision (a new rollout
// has begun since); else the only live version; else the only one the latest
// revision applied.
//
// The stable version is the one the recording names, when the recording is
// about this canary; else the one a rollout step of the latest revision
// recorded on the canary's Deployment before any route recorded the roles
// (so that they hold for the whole run). Otherwise it is the live version, other than the canary,
// that has been in service longest (see inService). When even the canary is
// unknown, the stable version is ranked first among all and the canary is
// the newest of the rest: a rollout moves from an older version to a newer
// one.
func DecideRoles(in Live) Roles {
	r := Roles{Canary: in.Rendered, Source: SourceRendered}
	if r.Canary == "" {
		r.Canary, r.Source = in.canary()
	}
	rec := in.Recorded
	if rec.Canary != r.Canary {
		rec = in.runRecorded(r.Canary)
	}
	if r.Canary != "" && rec.Canary == r.Canary && rec.Stable != "" && rec.Stable != r.Canary {
		r.Stable, r.Source = rec.Stable, SourceAnnotations
		return r
	}
	var others []Version
	for _, v := range in.Versions {
		if v.Name != r.Canary {
			others = append(others, v)
		}
	}
	ranked := inService(others)
	if len(ranked) == 0 {
		return r
	}
	r.Stable = ranked[0].Name
	if r.Canary == "" && len(ranked) > 1 {
		r.Canary = newest(ranked[1:]).Name
	}
	return r
}

// runRecorded is the record that a rollout step's plan of the latest
// revision left on the canary's Deployment; a record of another revision
// is about another run (a version rendered again later is decided afresh).
func (in Live) runRecorded(canary string) Recorded {
	for _, v := range in.Versions {
		if v.Name == canary && v.RunStable != "" && v.RunRevision == in.LatestRevision {
			return Recorded{Stable: v.RunStable, Canary: canary}
		}
	}
	return in.Recorded
}

// canary finds the canary without knowing the rendered version; "" with
// SourceTraffic when it is to be told by age, once the stable one is known.
func (in Live) canary() (string, Source) {
	if in.Recorded.Canary != "" && !in.newerThanRecorded() {
		return in.Recorded.Canary, SourceAnnotations
	}
	switch len(in.Versions) {
	case 0:
		return "", SourceNone
	case 1:
		return in.Versions[0].Name, SourceSingle
	}
	if v, ok := in.onlyOfLatestRevision(); ok {
		return v, SourceAppRevision
	}
	return "", SourceTraffic
}

// newerThanRecorded reports whether the latest revision applied a version
// the recording does not name: the recording is about an earlier rollout.
// (A rollback re-applies the stable version under the latest revision, so
// that one does not count.)
func (in Live) newerThanRecorded() bool {
	for _, v := range in.Versions {
		if in.LatestRevision != "" && v.AppRevision == in.LatestRevision &&
			v.Name != in.Recorded.Canary && v.Name != in.Recorded.Stable {
			return true
		}
	}
	return false
}

func (in Live) onlyOfLatestRevision() (string, bool) {
	found := ""
	for _, v := range in.Versions {
		if in.LatestRevision == "" || v.AppRevision != in.LatestRevision {
			continue
		}
		if found != "" {
			return "", false
		}
		found = v.Name
	}
	return found, found != ""
}

// inService orders versions by how surely they are the one in service
// before a rollout: one that gets traffic first, then one with a ready
// instance (the Service spreads requests over every ready pod); among equals
// the older (a rollout moves to newer versions), then the one with more
// ready instances, then by name.
func inService(versions []Version) []Version {
	out := append([]Version(nil), versions...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Weight > 0) != (b.Weight > 0) {
			return a.Weight > 0
		}
		if (a.Ready > 0) != (b.Ready > 0) {
			return a.Ready > 0
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		if a.Ready != b.Ready {
			return a.Ready > b.Ready
		}
		return a.Name < b.Name
	})
	return out
}

// newest is the most recently created of versions, the first of equals;
// versions is not empty.
func newest(versions []Version) Version {
	n := versions[0]
	for _, v := range versions[1:] {
		if v.Created.After(n.Created) {
			n = v
		}
	}
	return n
}
