package status

import (
	"time"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// Candidate is what the view knows about one live version.
type Candidate struct {
	Version     string
	AppRevision string // label app.oam.dev/appRevision of its Deployment
	Created     time.Time
	Weight      int32
	Ready       int32
	// RunStable and RunRevision are the record a rollout step left on its
	// Deployment (contract.Version).
	RunStable, RunRevision string
}

// Roles is the outcome of DecideRoles.
type Roles struct {
	Stable string
	Canary string
	// Source: "annotations", "none", "single", "appRevision" or "traffic".
	Source string
}

// DecideRoles tells which version the view shows as stable and which as
// canary. The decision is the contract's rule (contract.DecideRoles), which
// the provider follows too; the view does not know the version the
// Application renders, so the rule goes by the roles the steps recorded on
// the VirtualService and by the Application's latest revision.
//
// The rule names a version with nothing to move away from (the first one)
// the canary; the view shows it as the stable version, because it is the one
// in service.
func DecideRoles(annotations map[string]string, cands []Candidate, latestRevision string) Roles {
	return shown(contract.DecideRoles(rolesInput(annotations, cands, latestRevision)))
}

// shown is how the view shows the rule's decision.
func shown(r contract.Roles) Roles {
	if r.Stable == "" {
		r.Stable, r.Canary = r.Canary, ""
	}
	return Roles{Stable: r.Stable, Canary: r.Canary, Source: string(r.Source)}
}

func rolesInput(annotations map[string]string, cands []Candidate, latestRevision string) contract.Live {
	in := contract.Live{Recorded: contract.RecordedIn(annotations), LatestRevision: latestRevision}
	for _, c := range cands {
		in.Versions = append(in.Versions, contract.Version{
			Name: c.Version, Weight: int(c.Weight), Ready: int(c.Ready), Created: c.Created, AppRevision: c.AppRevision,
			RunStable: c.RunStable, RunRevision: c.RunRevision,
		})
	}
	return in
}
