//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/istio-canary/istio-canary/test/cluster"
)

// The provider runs in every flow with its ServiceAccount's credentials
// only. After a full run (no -run), TestMain holds what it did, as the API
// server's audit log records it, against the role the addon gives it:
// no request was forbidden (the role is enough) and every permission of the
// role was used by some flow (it holds nothing more). A run of a few tests
// exercises too little to judge the second.
const providerUser = "system:serviceaccount:vela-system:istio-canary-provider"

func TestMain(m *testing.M) {
	flag.Parse()
	start := auditLogSize()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		if err := checkProviderRole(start); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: the provider's role:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// auditLogSize is where this run's part of the audit log starts (0 before
// the cluster exists: the tests start it).
func auditLogSize() int64 {
	c, err := cluster.Status(context.Background(), cluster.Options{Log: io.Discard})
	if err != nil {
		return 0
	}
	info, err := os.Stat(c.AuditLog)
	if err != nil {
		return 0
	}
	return info.Size()
}

// auditEvent is the part of an audit.k8s.io/v1 Event this check reads.
type auditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		APIGroup    string `json:"apiGroup"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// permission is the verb on the resource (and subresource) that the
// request needed; describe adds the object it was for.
func (e auditEvent) permission() string {
	resource := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		resource += "/" + e.ObjectRef.Subresource
	}
	return permission(e.ObjectRef.APIGroup, resource, e.Verb)
}

func (e auditEvent) describe() string {
	return fmt.Sprintf("%s %s/%s", e.permission(), e.ObjectRef.Namespace, e.ObjectRef.Name)
}

// permission is one verb on one resource of a group, as RBAC grants it.
func permission(group, resource, verb string) string {
	return fmt.Sprintf("%s %s/%s", verb, group, resource)
}

func checkProviderRole(start int64) error {
	ctx := context.Background()
	c, err := cluster.Status(ctx, cluster.Options{Log: io.Discard})
	if err != nil {
		return fmt.Errorf("the cluster: %w", err)
	}
	used, forbidden, err := providerRequests(c.AuditLog, start)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	role, err := kube.RbacV1().ClusterRoles().Get(ctx, "istio-canary-provider", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read the addon's ClusterRole: %w", err)
	}
	var granted, unused []string
	for _, rule := range role.Rules {
		for _, g := range rule.APIGroups {
			for _, r := range rule.Resources {
				for _, v := range rule.Verbs {
					p := permission(g, r, v)
					granted = append(granted, p)
					if used[p] == 0 {
						unused = append(unused, p)
					}
				}
			}
		}
	}
	fmt.Println("The provider's requests as its ServiceAccount, by permission:")
	for _, p := range slices.Sorted(maps.Keys(used)) {
		mark := ""
		if !slices.Contains(granted, p) {
			mark = " (granted to every identity, not by the addon's role)"
		}
		fmt.Printf("  %6d  %s%s\n", used[p], p, mark)
	}
	var errs []error
	if len(forbidden) > 0 {
		errs = append(errs, fmt.Errorf("forbidden requests (the role is not enough): %s", strings.Join(forbidden, "; ")))
	}
	if len(unused) > 0 {
		errs = append(errs, fmt.Errorf("granted but used by no flow (remove them from resources/provider.cue, or add the flow that needs them): %s", strings.Join(unused, ", ")))
	}
	if used[permission("apps", "deployments", "patch")] == 0 {
		errs = append(errs, errors.New("the provider made no request as its ServiceAccount: does hack/addon.sh still run it with the ServiceAccount's kubeconfig?"))
	}
	return errors.Join(errs...)
}

// providerRequests reads the provider's requests from the audit log, from
// offset start on: how many of each permission, and those forbidden.
func providerRequests(path string, start int64) (map[string]int, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("the API server's audit log (a cluster started before it was audited? run make cluster-down once): %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, nil, err
	}
	used := map[string]int{}
	var forbidden []string
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		var e auditEvent
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
			return nil, nil, fmt.Errorf("audit log %s: %w", path, err)
		}
		if e.User.Username != providerUser || e.Stage != "ResponseComplete" || e.ObjectRef == nil {
			continue
		}
		p := e.permission()
		used[p]++
		if e.ResponseStatus.Code == 403 {
			forbidden = append(forbidden, e.describe())
		}
	}
	return used, forbidden, lines.Err()
}
