package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// waitFor polls ready until it reports true or timeout passes. It fails at
// once, with the end of the log, when one of the watched processes exits:
// a crashed program would otherwise show up only as a timeout.
func waitFor(ctx context.Context, what string, timeout time.Duration, watched []Process, ready func(context.Context) error) error {
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range watched {
			if !p.isAlive() {
				return false, fmt.Errorf("%s exited; end of %s:\n%s", p.Name, p.Log, tail(p.Log, 3000))
			}
		}
		lastErr = ready(ctx)
		return lastErr == nil, nil
	})
	if err != nil {
		if wait.Interrupted(err) && lastErr != nil {
			return fmt.Errorf("wait for %s: %w (last: %w)", what, err, lastErr)
		}
		return fmt.Errorf("wait for %s: %w", what, err)
	}
	return nil
}

// httpOK GETs a plain-HTTP loopback URL and expects status 200.
func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func waitEtcd(ctx context.Context, p Ports, etcd Process) error {
	return waitFor(ctx, "etcd", 30*time.Second, []Process{etcd}, func(ctx context.Context) error {
		return httpOK(ctx, "http://"+addr(p.EtcdClient)+"/health")
	})
}

func apiServerReady(ctx context.Context, clients kubernetes.Interface) error {
	body, err := clients.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("readyz: %w: %s", err, strings.TrimSpace(string(body)))
	}
	return nil
}

func waitAPIServer(ctx context.Context, clients kubernetes.Interface, apiserver Process) error {
	return waitFor(ctx, "kube-apiserver /readyz", time.Minute, []Process{apiserver}, func(ctx context.Context) error {
		return apiServerReady(ctx, clients)
	})
}

func velaCoreReady(ctx context.Context, p Ports) error {
	return httpOK(ctx, "http://"+addr(p.VelaHealth)+"/readyz")
}

func waitVelaCore(ctx context.Context, p Ports, velaCore Process) error {
	return waitFor(ctx, "vela-core /readyz", time.Minute, []Process{velaCore}, func(ctx context.Context) error {
		return velaCoreReady(ctx, p)
	})
}

func nodeReady(ctx context.Context, clients kubernetes.Interface) error {
	node, err := clients.CoreV1().Nodes().Get(ctx, FakeNodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("node %s: Ready=%s (%s)", FakeNodeName, c.Status, c.Message)
		}
	}
	return fmt.Errorf("node %s has no Ready condition yet", FakeNodeName)
}

func waitNodeReady(ctx context.Context, clients kubernetes.Interface, watched []Process) error {
	return waitFor(ctx, "node "+FakeNodeName+" Ready", time.Minute, watched, func(ctx context.Context) error {
		return nodeReady(ctx, clients)
	})
}

// checkHealth tells whether a recorded cluster can be reused: every process
// still runs, the API server and vela-core are ready, the node is Ready and
// the env file is there.
func checkHealth(ctx context.Context, l layout, s state) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if len(s.Processes) == 0 {
		return errors.New("no processes recorded")
	}
	for _, p := range s.Processes {
		if !p.Adopted && !p.isAlive() {
			return fmt.Errorf("%s (pid %d) is not running", p.Name, p.PID)
		}
	}
	clients, err := l.adminClients()
	if err != nil {
		return err
	}
	if err := apiServerReady(ctx, clients); err != nil {
		return err
	}
	if err := velaCoreReady(ctx, s.Ports); err != nil {
		return fmt.Errorf("vela-core: %w", err)
	}
	if err := prometheusReady(ctx, s.Ports); err != nil {
		return fmt.Errorf("prometheus: %w", err)
	}
	if err := nodeReady(ctx, clients); err != nil {
		return err
	}
	if _, err := l.readEnvFile(); err != nil {
		return err
	}
	return nil
}

// adminClients is a client of the cluster's API server as its admin.
func (l layout) adminClients() (kubernetes.Interface, error) {
	config, err := restConfigFromKubeconfig(l.kubeconfig())
	if err != nil {
		return nil, err
	}
	clients, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return clients, nil
}
