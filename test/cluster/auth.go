package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Authentication mode: with ISTIO_CANARY_VELA_AUTH=1 the cluster runs
// vela-core as a KubeVela Helm install with authentication.enabled=true and
// authentication.withUser=true does: vela-core impersonates the user who
// last wrote an Application (annotation app.oam.dev/username, recorded by
// vela's mutating admission webhook) in everything the Application's
// workflow reads and writes. That needs, here:
//
//   - vela-core with the chart's flags (--feature-gates=AuthenticateApplication=true,
//     --authentication-with-user, --authentication-default-user,
//     --authentication-group-pattern) and its webhook server on
//     (--use-webhook=true, a port, a cert dir);
//   - vela-core running as a ServiceAccount (vela-system/kubevela-vela-core,
//     as in the chart): its webhook skips the writes of the identity it runs
//     as, found from a service-account token or a client certificate. Run
//     with the admin's token, its own updates of an Application (finalizers)
//     would record "admin" as the Application's user;
//   - a MutatingWebhookConfiguration that sends Application writes to the
//     local vela-core (https://127.0.0.1:<port>/...);
//   - a user of an app team, AuthUser, with a kubeconfig of its own
//     (Cluster.UserKubeconfig) and no permissions: the tests grant them;
//   - cluster-admin bound to the user name "admin": vela impersonates the
//     user name and only the groups matching the group pattern (kubevela:*),
//     so the admin's system:masters does not go along when vela-core runs an
//     Application the admin wrote (the addon's, from `vela addon enable`).
//
// The default cluster (the variable unset) has none of this.
const velaAuthEnv = "ISTIO_CANARY_VELA_AUTH"

func velaAuth() bool {
	switch os.Getenv(velaAuthEnv) {
	case "", "0", "false":
		return false
	}
	return true
}

// AuthUser is the user of an app team in a cluster in authentication mode:
// it authenticates with a token of its own and holds no permission until a
// test grants it some.
const AuthUser = "alice"

// AdminUser is the user name of the admin token every component and the
// admin kubeconfig use.
const AdminUser = "admin"

// velaCoreServiceAccount is the identity vela-core runs as in
// authentication mode, named as the chart names it.
const velaCoreServiceAccount = "kubevela-vela-core"

// velaApplicationWebhookPath is where vela-core serves its mutating webhook
// for Applications (RegisterMutatingHandler in kubevela's
// pkg/webhook/core.oam.dev/v1beta1/application).
const velaApplicationWebhookPath = "/mutating-core-oam-dev-v1beta1-applications"

func (l layout) webhookCertDir() string { return filepath.Join(l.dir, "vela-webhook-certs") }
func (l layout) velaCoreKubeconfig() string {
	return filepath.Join(l.dir, "vela-core.kubeconfig")
}
func (l layout) userKubeconfig(user string) string {
	return filepath.Join(l.dir, "users", user+".kubeconfig")
}

// UserKubeconfig is the kubeconfig of a user of a cluster in authentication
// mode (AuthUser), or "" when the cluster has no such user.
func (c *Cluster) UserKubeconfig(user string) string {
	path := layout{dir: c.Dir}.userKubeconfig(user)
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// addAuthUser gives AuthUser a token in the API server's token file (read
// at its start) and a kubeconfig.
func addAuthUser(l layout, port int, creds pki) error {
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return fmt.Errorf("generate a token for %s: %w", AuthUser, err)
	}
	f, err := os.OpenFile(creds.TokenFile, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s,%s,%s\n", hex.EncodeToString(token), AuthUser, AuthUser)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(l.userKubeconfig(AuthUser)), 0o700); err != nil {
		return err
	}
	return writeTokenKubeconfig(l.userKubeconfig(AuthUser), port, creds.CACert, hex.EncodeToString(token))
}

// velaCoreAuthArgs are the flags the vela-core chart passes with
// authentication.enabled=true and authentication.withUser=true (its
// defaults for the user and the group pattern), and those of its webhook
// server.
func velaCoreAuthArgs(l layout, p Ports) []string {
	return []string{
		"--feature-gates=AuthenticateApplication=true",
		"--authentication-with-user=true",
		"--authentication-default-user=kubevela:vela-core",
		"--authentication-group-pattern=kubevela:*",
		"--use-webhook=true",
		"--webhook-port=" + strconv.Itoa(p.VelaWebhook),
		"--webhook-cert-dir=" + l.webhookCertDir(),
	}
}

// prepareAuth runs before vela-core starts: it makes vela-core's
// ServiceAccount, binds it and the admin user to cluster-admin, writes
// vela-core's kubeconfig with a token of the ServiceAccount, and gives the
// webhook server a certificate for 127.0.0.1 (the API server's own, which
// the cluster's CA signed for 127.0.0.1).
func prepareAuth(ctx context.Context, clients kubernetes.Interface, l layout, p Ports, creds pki) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: velaCoreServiceAccount, Namespace: VelaSystemNamespace}}
	if _, err := clients.CoreV1().ServiceAccounts(VelaSystemNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create vela-core's ServiceAccount: %w", err)
	}
	bindings := []*rbacv1.ClusterRoleBinding{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "kubevela-vela-core:manager"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: velaCoreServiceAccount, Namespace: VelaSystemNamespace}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "istio-canary-local:admin-user"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: AdminUser}},
		},
	}
	for _, b := range bindings {
		if _, err := clients.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create ClusterRoleBinding %s: %w", b.Name, err)
		}
	}
	tr, err := clients.CoreV1().ServiceAccounts(VelaSystemNamespace).CreateToken(ctx, velaCoreServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64((30 * 24 * time.Hour).Seconds()))},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create a token of vela-core's ServiceAccount: %w", err)
	}
	if err := writeTokenKubeconfig(l.velaCoreKubeconfig(), p.APIServer, creds.CACert, tr.Status.Token); err != nil {
		return err
	}
	if err := os.MkdirAll(l.webhookCertDir(), 0o700); err != nil {
		return err
	}
	for from, to := range map[string]string{creds.APIServerCert: "tls.crt", creds.APIServerKey: "tls.key"} {
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(l.webhookCertDir(), to), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// registerWebhook sends Application writes to vela-core's mutating webhook
// (as the chart's MutatingWebhookConfiguration does, with a URL instead of
// a Service) once the webhook server answers TLS with the certificate
// prepareAuth gave it.
func registerWebhook(ctx context.Context, clients kubernetes.Interface, p Ports, creds pki, velaCore Process) error {
	ca, err := os.ReadFile(creds.CACert)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return errors.New("no certificate in the cluster's CA file")
	}
	err = waitFor(ctx, "vela-core's webhook server", time.Minute, []Process{velaCore}, func(ctx context.Context) error {
		dialer := tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
		conn, err := dialer.DialContext(ctx, "tcp", addr(p.VelaWebhook))
		if err != nil {
			return err
		}
		return conn.Close()
	})
	if err != nil {
		return err
	}
	url := "https://" + addr(p.VelaWebhook) + velaApplicationWebhookPath
	config := &admissionv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kubevela-vela-core-admission"},
		Webhooks: []admissionv1.MutatingWebhook{{
			Name:                    "mutating.core.oam.dev.v1beta1.applications",
			ClientConfig:            admissionv1.WebhookClientConfig{URL: &url, CABundle: ca},
			FailurePolicy:           ptr.To(admissionv1.Fail),
			SideEffects:             ptr.To(admissionv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1", "v1beta1"},
			TimeoutSeconds:          ptr.To[int32](10),
			Rules: []admissionv1.RuleWithOperations{{
				Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
				Rule: admissionv1.Rule{
					APIGroups:   []string{"core.oam.dev"},
					APIVersions: []string{"v1beta1"},
					Resources:   []string{"applications"},
				},
			}},
		}},
	}
	_, err = clients.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, config, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("register vela-core's webhook: %w", err)
	}
	return nil
}
