// Package router gets and sets the routes of a component's traffic, apart
// from scaling and analysis: the plan decides on plain destinations (version,
// weight), and a Router reads them from, and renders them into, the mesh's
// objects.
//
// A Router never writes to the cluster: "set" renders the manifest that vela
// applies, because vela owns the objects of the current Application revision
// and would put back any other writer's change.
package router

import (
	"context"
	"fmt"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// Router reads a component's routes and renders the objects that change
// them. It owns one HTTP route of the component's VirtualService, the one
// contract.OurRoute finds, and leaves every other route as it is, where it is.
type Router interface {
	// GetRoutes reads the component's routes (its VirtualService).
	GetRoutes(ctx context.Context, c Component) (*Routes, error)
	// GetSubsets reads the component's subsets (its DestinationRule).
	GetSubsets(ctx context.Context, c Component) (*Subsets, error)
	// SetRoutes renders the VirtualService that routes as want says, built
	// on the live one so that what others wrote stays.
	SetRoutes(live *Routes, want RouteChange) (map[string]any, error)
	// SetSubsets renders the DestinationRule with one subset per version,
	// built on the live one.
	SetSubsets(live *Subsets, versions []string) (map[string]any, error)
	// GetGatewayRoutes reads the VirtualService that the component's
	// ingress gateway route delegates to.
	GetGatewayRoutes(ctx context.Context, c Component) (*Routes, error)
	// SetGatewayRoutes renders that delegate, built on its live object: the
	// routes SetRoutes renders on mesh, the component's VirtualService, with
	// want's port, so that ingress traffic is split as the mesh's is.
	SetGatewayRoutes(live, mesh *Routes, want RouteChange) (map[string]any, error)
}

// Component is a routed component of an Application. Its VirtualService and
// DestinationRule are named after it and carry its Application's labels.
type Component struct {
	Namespace string
	App       string
	Name      string
}

// owns reports whether an object with these labels belongs to the component.
func (c Component) owns(labels map[string]string) bool {
	return contract.BelongsTo(labels, c.App, c.Name)
}

// Routes is a component's VirtualService as a Router read it.
type Routes struct {
	Component Component
	// Name is the VirtualService's: the component's, or its gateway
	// routes' (contract.GatewayRoutesName).
	Name string
	// Served is false when the cluster serves no API for VirtualServices
	// (Istio is not installed).
	Served bool
	// Found is true when the component has a VirtualService.
	Found bool
	// Destinations are those of the route the steps own, in order; nil
	// without a VirtualService or a route.
	Destinations []contract.Destination
	// Annotations are the VirtualService's.
	Annotations map[string]string
	// Port is the port of the owned route's first destination; 0 when it
	// names none.
	Port int
	// Requests are the routes by request content the steps set.
	Requests Requests

	live *virtualService
}

// Requests are the routes by request content that the steps own: the match
// route (contract.MatchRouteName), which sends the requests it matches to
// one version whatever the weights, and the mirror of the weighted route.
type Requests struct {
	// Match are the match route's matches as plain JSON values in Istio's
	// shape (any one matches); none: no match route.
	Match []any
	// Version is the version the match route sends to.
	Version string
	// Mirror is the weighted route's mirror; nil: none.
	Mirror *contract.Mirror
}

// Subsets is a component's DestinationRule as a Router read it.
type Subsets struct {
	Component Component
	// Served and Found are as in Routes, for DestinationRules.
	Served, Found bool
	// Names are the subsets' names, sorted; nil without a DestinationRule.
	Names []string

	live *destinationRule
}

// RouteChange is the routing a step wants for a component.
type RouteChange struct {
	Destinations []contract.Destination
	// Port is the port the destinations go to; 0 keeps the live route's.
	Port int
	// Annotations are set on the VirtualService, over the live ones.
	Annotations map[string]string
	// Requests replace the live routes by request content: a match route
	// only when it has matches, a mirror only when not nil.
	Requests Requests
}

// NotOwnedError refuses an object named after the component that belongs to
// someone else: applying the component would take it over.
type NotOwnedError struct {
	Kind      string
	Name      string
	Component Component
}

func (e *NotOwnedError) Error() string {
	c := e.Component
	return fmt.Sprintf("%s %s/%s does not belong to component %s of application %s; remove it or rename the component",
		e.Kind, c.Namespace, e.Name, c.Name, c.App)
}
