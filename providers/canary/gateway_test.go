package canary

import (
	"testing"

	"github.com/stretchr/testify/require"
	istioapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// gatewayPort is the port of the istio-gateway trait in the tests: not the
// mesh route's, to tell them apart.
const gatewayPort = 9081

// gatewayRoutes is the VirtualService the gateway delegates to, as
// canary-traffic renders it: vs's routes on the gateway port, no hosts.
func gatewayRoutes(vs *networkingv1.VirtualService) *networkingv1.VirtualService {
	d := vs.DeepCopy()
	d.Name = contract.GatewayRoutesName(testComp)
	d.Spec.Hosts = nil
	d.Spec.ExportTo = []string{"."}
	for _, h := range d.Spec.Http {
		for _, r := range h.Route {
			r.Destination.Port = &istioapi.PortSelector{Number: gatewayPort}
		}
		if h.Mirror != nil {
			h.Mirror.Port = &istioapi.PortSelector{Number: gatewayPort}
		}
	}
	return d
}

func gatewayStep(t *testing.T) *PlanParams {
	in := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	in.Gateway = &GatewaySpec{Port: gatewayPort}
	in.Match = []map[string]any{canaryHeader()}
	return in
}

func planGateway(t *testing.T, in *PlanParams, live ...runtime.Object) (PlanResult, fixture) {
	t.Helper()
	f := newFixture(t, live...)
	_, ctx := ktesting.NewTestContext(t)
	res, err := f.plan(ctx, in, nil)
	require.NoError(t, err)
	f.requireReadOnly(t)
	require.Contains(t, f.actions(), "get virtualservices default/"+contract.GatewayRoutesName(testComp))
	return throughJSON[PlanResult](t, res), f
}

// The gateway's delegate gets the mesh's split, matches included, on the
// gateway's port, at the same time as the mesh's routes.
func TestPlanSplitsIngressLikeTheMesh(t *testing.T) {
	mesh := virtualService(r("v1", 100))
	mesh.Spec.Http[0].Name = contract.RouteName
	res, _ := planGateway(t, gatewayStep(t), deployment("v1", 2, 2), deployment("v2", 1, 1), mesh, gatewayRoutes(mesh), destinationRule("v1", "v2"))
	require.True(t, res.Route)
	gw := decodeVS(t, res.GatewayRoutes)
	require.Equal(t, contract.GatewayRoutesName(testComp), gw.meta.Name)
	require.Empty(t, gw.spec.Hosts, "Istio takes only a VirtualService without hosts as a delegate")
	require.Equal(t, []string{"."}, gw.spec.ExportTo)
	require.Equal(t, []string{contract.MatchRouteName, contract.RouteName}, routeNames(gw.spec.Http))
	require.Equal(t, []contract.Destination{{Version: "v1", Weight: 90}, {Version: "v2", Weight: 10}}, contract.Destinations(gw.spec.Http[1]))
	require.Equal(t, []contract.Destination{{Version: "v2", Weight: 100}}, contract.Destinations(gw.spec.Http[0]))
	for _, h := range gw.spec.Http {
		for _, d := range h.Route {
			require.Equal(t, uint32(gatewayPort), d.Destination.Port.GetNumber(), "the gateway's port")
		}
	}
	require.Equal(t, decodeVS(t, res.VirtualService).spec.Http[1].Route[0].Destination.Port.GetNumber(), uint32(testPort), "the mesh keeps its port")
	require.Equal(t, routeNames(gw.spec.Http), routeNames(decodeHTTP(t, res.Patch.GatewayHTTP)), "the component is applied with the same delegate routes")
	require.False(t, res.Done)
}

// Until the batch is ready the delegate is held as it is, like the mesh's
// routes; the step is done only when the delegate is split too.
func TestPlanHoldsAndChecksTheIngressSplit(t *testing.T) {
	mesh := virtualService(r("v1", 100))
	res, _ := planGateway(t, gatewayStep(t), deployment("v1", 2, 2), deployment("v2", 1, 0), mesh, gatewayRoutes(mesh), destinationRule("v1"))
	require.False(t, res.Route)
	require.Nil(t, res.GatewayRoutes)
	held := decodeHTTP(t, res.Patch.GatewayHTTP)
	require.Equal(t, []string{contract.RouteName}, routeNames(held))
	require.Equal(t, []contract.Destination{{Version: "v1", Weight: 100}}, contract.Destinations(held[0]))

	split := withRequests(virtualService(r("v1", 90), r("v2", 10)), "v2", 0)
	res, _ = planGateway(t, gatewayStep(t), deployment("v1", 1, 1), deployment("v2", 1, 1), split, gatewayRoutes(virtualService(r("v1", 100))), destinationRule("v1", "v2"))
	require.False(t, res.Done, "the mesh is split but the gateway is not")
	res, _ = planGateway(t, gatewayStep(t), deployment("v1", 1, 1), deployment("v2", 1, 1), split, gatewayRoutes(split), destinationRule("v1", "v2"))
	require.True(t, res.Done, res.Message)
}

// A rollback restores the gateway with the mesh: all to the stable
// version, the match route gone.
func TestPlanRollbackRestoresTheIngress(t *testing.T) {
	split := withRequests(virtualService(r("v1", 90), r("v2", 10)), "v2", 0)
	in := rollbackStep(t)
	in.Gateway = &GatewaySpec{Port: gatewayPort}
	res, _ := planGateway(t, in, deployment("v1", 1, 1), deployment("v2", 1, 1), split, gatewayRoutes(split), destinationRule("v1", "v2"))
	gw := decodeVS(t, res.GatewayRoutes)
	require.Equal(t, []string{contract.RouteName}, routeNames(gw.spec.Http))
	require.Equal(t, []contract.Destination{{Version: "v1", Weight: 100}}, contract.Destinations(gw.spec.Http[0]))
}

// A component serving on several ports has no traffic.port, but its
// gateway's delegate is split all the same, on the gateway's port.
func TestPlanSplitsIngressOfAComponentWithSeveralPorts(t *testing.T) {
	in := gatewayStep(t)
	in.Traffic = nil
	mesh := virtualService(r("v1", 100))
	res, _ := planGateway(t, in, deployment("v1", 2, 2), deployment("v2", 1, 1), mesh, gatewayRoutes(mesh), destinationRule("v1", "v2"))
	gw := decodeVS(t, res.GatewayRoutes)
	require.Equal(t, []contract.Destination{{Version: "v1", Weight: 90}, {Version: "v2", Weight: 10}}, contract.Destinations(gw.spec.Http[1]))
	require.Equal(t, uint32(gatewayPort), gw.spec.Http[1].Route[0].Destination.Port.GetNumber())
	require.NotEmpty(t, res.Patch.GatewayHTTP, "the component is applied with the delegate's routes, not an empty list")
}
