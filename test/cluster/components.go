package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// component is one program of the control plane and its command line.
type component struct {
	name string
	args []string
	// program is the binary when it is not name in the cluster's bin dir.
	program string
	// env is added to the environment (after KUBECONFIG, which it may replace).
	env []string
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// Everything below listens on 127.0.0.1 only, on the ports chosen free at
// start; kube-controller-manager and kube-scheduler serve nothing
// (--secure-port=0): they are checked through what they do.

func etcd(l layout, p Ports) component {
	client, peer := "http://"+addr(p.EtcdClient), "http://"+addr(p.EtcdPeer)
	return component{name: "etcd", args: []string{
		"--name=default",
		"--data-dir=" + l.etcdDataDir(),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=default=" + peer,
		"--unsafe-no-fsync", // throwaway data: fsync only slows tests down
		"--log-level=warn",
	}}
}

// auditPolicy records every request of a service account (a provider run
// with one's credentials) at Metadata level, and nothing else: what the
// tests read to tell which permissions a role needs.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
`

func kubeAPIServer(l layout, p Ports, k pki) component {
	return component{name: "kube-apiserver", args: []string{
		"--audit-policy-file=" + l.auditPolicy(),
		"--audit-log-path=" + l.auditLog(),
		"--audit-log-maxbackup=0",
		"--etcd-servers=http://" + addr(p.EtcdClient),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.APIServer),
		"--tls-cert-file=" + k.APIServerCert,
		"--tls-private-key-file=" + k.APIServerKey,
		"--token-auth-file=" + k.TokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + k.ServiceAcctPub,
		"--service-account-signing-key-file=" + k.ServiceAcctKey,
		// Room for the Services of a few hundred Applications (make
		// bench's scale figure runs 200 bookinfos of 5 Services each; a
		// /24 ran out of addresses there).
		"--service-cluster-ip-range=10.0.0.0/16",
		"--allow-privileged=true",
		// The loopback advertise address is not a valid endpoint of the
		// "kubernetes" Service; without this the log repeats that error.
		"--endpoint-reconciler-type=none",
	}}
}

func kubeControllerManager(l layout, k pki) component {
	return component{name: "kube-controller-manager", args: []string{
		"--kubeconfig=" + l.kubeconfig(),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--service-account-private-key-file=" + k.ServiceAcctKey,
		"--root-ca-file=" + k.CACert,
	}}
}

func kubeScheduler(l layout) component {
	return component{name: "kube-scheduler", args: []string{
		"--kubeconfig=" + l.kubeconfig(),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
	}}
}

// kwok plays the kubelet of the fake node. Without a node lease,
// kube-controller-manager marks the node NotReady every minute and kwok's
// pod-ready stage (which only matches Pending pods) never makes the pods
// Ready again, hence --node-lease-duration-seconds.
func kwok(l layout, p Ports) component {
	return component{name: "kwok", args: []string{
		"--kubeconfig=" + l.kubeconfig(),
		"--config=" + l.kwokStages(),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1",
		"--node-port=" + strconv.Itoa(p.Kwok),
		"--server-address=" + addr(p.Kwok),
		"--cidr=10.244.0.0/16",
		"--node-lease-duration-seconds=40",
	}}
}

// velaCore runs the KubeVela controller as a local process: no admission
// webhooks (nothing could call back into a local process through a
// Service), no leader election, and external CueX packages re-read when
// they change (the addon registers its provider through one).
//
// In authentication mode (auth), it runs as its ServiceAccount with the
// chart's authentication flags and serves its webhooks (see velaAuthEnv).
func velaCore(l layout, p Ports, auth bool) component {
	c := component{name: "vela-core", args: []string{
		"--enable-leader-election=false",
		"--metrics-addr=0", // controller-runtime: "0" serves no metrics
		"--health-addr=" + addr(p.VelaHealth),
		"--enable-external-package-for-default-compiler=true",
		"--enable-external-package-watch-for-default-compiler=true",
	}}
	if !auth {
		c.args = append([]string{"--use-webhook=false"}, c.args...)
		return c
	}
	c.args = append(c.args, velaCoreAuthArgs(l, p)...)
	c.env = []string{"KUBECONFIG=" + l.velaCoreKubeconfig()}
	return c
}

// start launches c from binDir, detached, logging to logs/<name>.log.
func (c component) start(l layout, binDir string) (Process, error) {
	added := append([]string{"KUBECONFIG=" + l.kubeconfig()}, c.env...)
	program := filepath.Join(binDir, c.name)
	if c.program != "" {
		program = c.program
	}
	if _, err := os.Stat(program); err != nil {
		return Process{}, fmt.Errorf("program of %s: %w", c.name, err)
	}
	return startDetached(c.name, l.logFile(c.name), added, program, c.args...)
}
