package k8scheck_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/twitter-api/twitter-api/devtools/k8scheck"
)

const (
	overlaysDir = "../../deploy/k8s/overlays"
	// The API's routes: probe paths must be among them.
	routesFile = "../../app/httpapi/routes.go"
	// The service's configuration, with the limits it puts on the shutdown timings.
	configFile = "../../app/config/config.go"
	// The readiness handler, with the bound it puts on its check.
	healthFile = "../../app/httpapi/health.go"
	// The PostgreSQL port, the only one the pods may reach besides DNS
	// and, with tracing on, the OTLP collector's.
	postgresPort = 5432
	// What an open connection costs the API, at most, and its resident
	// memory before any (docs/reliability-and-security.md).
	connBytes = 32 << 10
	baseBytes = 64 << 20
)

// otlpPort is the port of the OTLP endpoint the container exports traces
// to, 0 when tracing is off.
func otlpPort(c corev1.Container) int32 {
	GinkgoHelper()
	endpoint := ""
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		if e, ok := envValue(c, name); ok && e.Value != "" {
			endpoint = e.Value
		}
	}
	if endpoint == "" {
		return 0
	}
	u, err := url.Parse(endpoint)
	Expect(err).NotTo(HaveOccurred(), "OTLP endpoint %q", endpoint)
	port := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	if u.Port() != "" {
		port = u.Port()
	}
	n, err := strconv.Atoi(port)
	Expect(err).NotTo(HaveOccurred(), "OTLP endpoint %q", endpoint)
	return int32(n)
}

// overlays are found on disk, so a new overlay is checked without edits here.
func overlays() []string {
	entries, err := os.ReadDir(overlaysDir)
	if err != nil {
		panic(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		panic("no overlays in " + overlaysDir)
	}
	return names
}

// rendered is one overlay's objects, by kind.
type rendered struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
	netpol     *networkingv1.NetworkPolicy
	accounts   []*corev1.ServiceAccount
}

func load(overlay string) rendered {
	GinkgoHelper()
	out, err := k8scheck.Render(filepath.Join(overlaysDir, overlay))
	Expect(err).NotTo(HaveOccurred())
	objs, err := k8scheck.Decode(out)
	Expect(err).NotTo(HaveOccurred(), "strict decoding of overlay %s", overlay)
	var r rendered
	one := func(have bool, obj runtime.Object) {
		Expect(have).To(BeFalse(), "a second %T", obj)
	}
	for _, obj := range objs {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			one(r.deployment != nil, o)
			r.deployment = o
		case *corev1.Service:
			one(r.service != nil, o)
			r.service = o
		case *autoscalingv2.HorizontalPodAutoscaler:
			one(r.hpa != nil, o)
			r.hpa = o
		case *policyv1.PodDisruptionBudget:
			one(r.pdb != nil, o)
			r.pdb = o
		case *networkingv1.NetworkPolicy:
			one(r.netpol != nil, o)
			r.netpol = o
		case *corev1.ServiceAccount:
			r.accounts = append(r.accounts, o)
		default:
			// A Secret above all: credentials are never part of the manifests.
			Fail(fmt.Sprintf("unexpected object %T in overlay %s", obj, overlay))
		}
	}
	for name, present := range map[string]bool{
		"Deployment": r.deployment != nil, "Service": r.service != nil,
		"HorizontalPodAutoscaler": r.hpa != nil, "PodDisruptionBudget": r.pdb != nil,
		"NetworkPolicy": r.netpol != nil,
	} {
		Expect(present).To(BeTrue(), "overlay %s has no %s", overlay, name)
	}
	return r
}

func envValue(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func duration(c corev1.Container, name string) time.Duration {
	GinkgoHelper()
	e, ok := envValue(c, name)
	Expect(ok).To(BeTrue(), "container %s sets no %s", c.Name, name)
	d, err := time.ParseDuration(e.Value)
	Expect(err).NotTo(HaveOccurred(), "%s=%q", name, e.Value)
	Expect(d).To(BeNumerically(">", 0), name)
	return d
}

// sourceDurations reads the N * time.Unit constants of a Go file of the API.
func sourceDurations(file string) map[string]time.Duration {
	GinkgoHelper()
	src, err := os.ReadFile(file)
	Expect(err).NotTo(HaveOccurred())
	consts, err := k8scheck.DurationConsts(src)
	Expect(err).NotTo(HaveOccurred())
	return consts
}

// seconds is a probe or policy field in seconds as a duration.
func seconds(n int32) time.Duration { return time.Duration(n) * time.Second }

// expectLockedDown asserts the pod-level and container-level hardening.
func expectLockedDown(pod corev1.PodSpec) {
	GinkgoHelper()
	psc := pod.SecurityContext
	Expect(psc).NotTo(BeNil(), "pod securityContext")
	Expect(psc.RunAsNonRoot).To(HaveValue(BeTrue()), "pod runAsNonRoot")
	if psc.RunAsUser != nil {
		Expect(*psc.RunAsUser).NotTo(BeZero(), "pod runAsUser")
	}
	Expect(pod.AutomountServiceAccountToken).To(HaveValue(BeFalse()), "no API token in the pod")
	Expect(pod.HostNetwork || pod.HostPID || pod.HostIPC).To(BeFalse())
	podSeccomp := psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	Expect(pod.Containers).NotTo(BeEmpty())
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		Expect(sc).NotTo(BeNil(), "container %s securityContext", c.Name)
		if sc.RunAsNonRoot != nil {
			Expect(*sc.RunAsNonRoot).To(BeTrue(), c.Name)
		}
		if sc.RunAsUser != nil {
			Expect(*sc.RunAsUser).NotTo(BeZero(), c.Name)
		}
		Expect(sc.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()), "%s readOnlyRootFilesystem", c.Name)
		Expect(sc.AllowPrivilegeEscalation).To(HaveValue(BeFalse()), "%s allowPrivilegeEscalation", c.Name)
		Expect(sc.Privileged == nil || !*sc.Privileged).To(BeTrue(), "%s privileged", c.Name)
		Expect(sc.Capabilities).NotTo(BeNil(), c.Name)
		Expect(sc.Capabilities.Drop).To(ContainElement(corev1.Capability("ALL")), "%s drops ALL", c.Name)
		Expect(sc.Capabilities.Add).To(BeEmpty(), c.Name)
		if sc.SeccompProfile != nil {
			Expect(sc.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault), c.Name)
		} else {
			Expect(podSeccomp).To(BeTrue(), "%s has no RuntimeDefault seccomp profile", c.Name)
		}
	}
}

// expectSized asserts requests and limits for CPU and memory, request <= limit.
func expectSized(c corev1.Container) {
	GinkgoHelper()
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, ok := c.Resources.Requests[res]
		Expect(ok).To(BeTrue(), "%s requests %s", c.Name, res)
		lim, ok := c.Resources.Limits[res]
		Expect(ok).To(BeTrue(), "%s limits %s", c.Name, res)
		Expect(req.Cmp(lim)).To(BeNumerically("<=", 0), "%s: %s request above its limit", c.Name, res)
		Expect(req.IsZero()).To(BeFalse(), "%s: zero %s request", c.Name, res)
	}
}

// expectDatabaseFromSecret asserts DATABASE_URL comes from a Secret and no
// connection string is written anywhere in the container's environment.
func expectDatabaseFromSecret(c corev1.Container) {
	GinkgoHelper()
	e, ok := envValue(c, "DATABASE_URL")
	Expect(ok).To(BeTrue(), "%s has no DATABASE_URL", c.Name)
	Expect(e.Value).To(BeEmpty(), "%s: DATABASE_URL written inline", c.Name)
	Expect(e.ValueFrom).NotTo(BeNil())
	Expect(e.ValueFrom.SecretKeyRef).NotTo(BeNil(), "%s: DATABASE_URL not from a Secret", c.Name)
	Expect(e.ValueFrom.SecretKeyRef.Name).NotTo(BeEmpty())
	Expect(e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional).To(BeTrue(), "an optional Secret")
	for _, e := range c.Env {
		Expect(strings.ToLower(e.Value)).NotTo(ContainSubstring("postgres"), "%s: %s looks like a connection string", c.Name, e.Name)
	}
	Expect(c.EnvFrom).To(BeEmpty())
}

// containerPort resolves a probe or Service port against the container's ports.
func containerPort(c corev1.Container, p intstr.IntOrString) int32 {
	GinkgoHelper()
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	Fail(fmt.Sprintf("port %s is not a port of container %s", p.String(), c.Name))
	return 0
}

func selects(sel map[string]string, podLabels map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(podLabels))
}

func imageTag(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		return image[i:] // a digest pins best of all
	}
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[i+1:]
	}
	return ""
}

var _ = Describe("imageTag", func() {
	It("reads tags, digests and their absence", func() {
		Expect(imageTag("registry.example.com:5000/app:v1.2.3")).To(Equal("v1.2.3"))
		Expect(imageTag("registry.example.com:5000/app")).To(Equal(""))
		Expect(imageTag("app:latest")).To(Equal("latest"))
		Expect(imageTag("app@sha256:abc")).To(Equal("@sha256:abc"))
	})
})

var _ = Describe("Overlay", func() {
	var routes map[string]bool
	BeforeEach(func() {
		src, err := os.ReadFile(routesFile)
		Expect(err).NotTo(HaveOccurred())
		routes, err = k8scheck.GetRoutes(src)
		Expect(err).NotTo(HaveOccurred())
	})

	for _, overlay := range overlays() {
		Describe(overlay, Ordered, ContinueOnFailure, func() {
			var r rendered
			var api corev1.Container
			BeforeAll(func() {
				r = load(overlay)
				Expect(r.deployment.Spec.Template.Spec.Containers).To(HaveLen(1))
				api = r.deployment.Spec.Template.Spec.Containers[0]
			})

			It("runs the API and its migration as non-root, read-only, without privileges", func() {
				expectLockedDown(r.deployment.Spec.Template.Spec)
			})

			It("runs `migrate up` from the API's image in an init container, before the API starts", func() {
				spec := r.deployment.Spec.Template.Spec
				Expect(spec.InitContainers).To(HaveLen(1))
				m := spec.InitContainers[0]
				Expect(m.Image).To(Equal(api.Image))
				Expect(m.Command).To(BeEmpty(), "the image's entrypoint is the binary")
				Expect(m.Args).To(Equal([]string{"migrate", "up"}))
				Expect(m.RestartPolicy).To(BeNil(), "an init container that runs to completion, not a sidecar")
				Expect(m.ImagePullPolicy).To(Equal(api.ImagePullPolicy))
			})

			It("probes real GET routes: startup and liveness on /healthz, readiness on /readyz", func() {
				Expect(api.StartupProbe).NotTo(BeNil(), "startup probe")
				Expect(api.LivenessProbe).NotTo(BeNil(), "liveness probe")
				Expect(api.ReadinessProbe).NotTo(BeNil(), "readiness probe")
				Expect(api.LivenessProbe.HTTPGet).NotTo(BeNil())
				Expect(api.ReadinessProbe.HTTPGet).NotTo(BeNil())
				Expect(api.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"), "liveness never depends on the database")
				Expect(api.StartupProbe.HTTPGet.Path).To(Equal("/healthz"))
				Expect(api.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
				for name, p := range map[string]*corev1.Probe{"startup": api.StartupProbe, "liveness": api.LivenessProbe, "readiness": api.ReadinessProbe} {
					Expect(p.HTTPGet).NotTo(BeNil(), name)
					Expect(routes).To(HaveKey(p.HTTPGet.Path), "%s probe path is no GET route of the API", name)
					Expect(containerPort(api, p.HTTPGet.Port)).To(BeNumerically(">", 0))
				}
			})

			It("rides out a saturated moment: readiness fails only after 10 s of failures, and waits for the API's own answer", func() {
				p := api.ReadinessProbe
				Expect(p).NotTo(BeNil())
				period, threshold := p.PeriodSeconds, p.FailureThreshold
				if period == 0 {
					period = 10 // the kubelet's default
				}
				if threshold == 0 {
					threshold = 3
				}
				Expect(seconds(period*threshold)).To(BeNumerically(">=", 10*time.Second),
					"periodSeconds %d x failureThreshold %d: one slow moment would take every replica out", period, threshold)
				bound, ok := sourceDurations(healthFile)["readyTimeout"]
				Expect(ok).To(BeTrue(), "app/httpapi/health.go declares readyTimeout")
				Expect(seconds(max(p.TimeoutSeconds, 1))).To(BeNumerically(">", bound),
					"the probe gives up before the API's own 503 (after %s) arrives", bound)
				Expect(p.SuccessThreshold).To(BeNumerically("<=", 1))
			})

			It("gives a terminating pod SHUTDOWN_GRACE, which covers SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT + the abort grace", func() {
				grace := r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
				Expect(grace).NotTo(BeNil(), "terminationGracePeriodSeconds")
				Expect(duration(api, "SHUTDOWN_GRACE")).To(Equal(seconds(int32(*grace))),
					"SHUTDOWN_GRACE tells the service the grace the kubelet grants")
				Expect(api.Lifecycle == nil || api.Lifecycle.PreStop == nil).To(BeTrue(),
					"no preStop hook: it would spend the grace before SIGTERM")
				abort, ok := sourceDurations(configFile)["AbortGrace"]
				Expect(ok).To(BeTrue(), "app/config declares AbortGrace")
				// The service refuses to start unless they fit, so check here too.
				need := duration(api, "SHUTDOWN_DELAY") + duration(api, "SHUTDOWN_TIMEOUT") + abort
				Expect(seconds(int32(*grace))).To(BeNumerically(">", need),
					"grace %ds does not cover the delay, the drain and the abort (%s)", *grace, need)
			})

			It("sets requests and limits on every container", func() {
				expectSized(api)
				for _, c := range r.deployment.Spec.Template.Spec.InitContainers {
					expectSized(c)
				}
			})

			It("bounds the API's connections within its memory limit, and leaves GOMEMLIMIT to the service", func() {
				e, ok := envValue(api, "MAX_CONNS")
				Expect(ok).To(BeTrue(), "MAX_CONNS is set where the memory limit is")
				conns, err := strconv.Atoi(e.Value)
				Expect(err).NotTo(HaveOccurred())
				limit := api.Resources.Limits[corev1.ResourceMemory]
				Expect(int64(conns)*connBytes+baseBytes).To(BeNumerically("<=", limit.Value()),
					"MAX_CONNS %d at %d KiB each over %d MiB exceeds the %s limit", conns, connBytes>>10, baseBytes>>20, limit.String())
				_, set := envValue(api, "GOMEMLIMIT")
				Expect(set).To(BeFalse(), "the service derives GOMEMLIMIT from the container's limit")
				_, set = envValue(api, "AUTOMEMLIMIT")
				Expect(set).To(BeFalse())
			})

			It("lets traces out to the collector where tracing is on, and nowhere else", func() {
				port := otlpPort(api)
				found := false
				for _, rule := range r.netpol.Spec.Egress {
					for _, p := range rule.Ports {
						if port == 0 || p.Port.IntVal != port {
							continue
						}
						Expect(rule.To).NotTo(BeEmpty(), "OTLP egress open to every address")
						found = true
					}
				}
				if port != 0 {
					Expect(found).To(BeTrue(), "tracing to port %d with no NetworkPolicy egress to it: every span would be dropped", port)
				}
			})

			It("reads DATABASE_URL from a Secret and ships none", func() {
				expectDatabaseFromSecret(api)
				for _, c := range r.deployment.Spec.Template.Spec.InitContainers {
					expectDatabaseFromSecret(c)
				}
			})

			It("rolls out without dropping capacity, spread over nodes", func() {
				s := r.deployment.Spec.Strategy
				Expect(s.Type).To(Equal(appsv1.RollingUpdateDeploymentStrategyType))
				Expect(s.RollingUpdate).NotTo(BeNil())
				Expect(s.RollingUpdate.MaxUnavailable).To(HaveValue(Equal(intstr.FromInt32(0))))
				Expect(s.RollingUpdate.MaxSurge).NotTo(BeNil())
				Expect(*s.RollingUpdate.MaxSurge).NotTo(Equal(intstr.FromInt32(0)), "with no surge and none unavailable nothing rolls")
				Expect(r.deployment.Spec.MinReadySeconds).To(BeNumerically(">", 0), "a pod counts once it has stayed ready")
				pod := r.deployment.Spec.Template
				Expect(selects(r.deployment.Spec.Selector.MatchLabels, pod.Labels)).To(BeTrue())
				Expect(pod.Spec.TopologySpreadConstraints).NotTo(BeEmpty())
				keys := []string{}
				for _, t := range pod.Spec.TopologySpreadConstraints {
					Expect(t.LabelSelector).NotTo(BeNil())
					Expect(selects(t.LabelSelector.MatchLabels, pod.Labels)).To(BeTrue(), "spread selector misses the pods")
					keys = append(keys, t.TopologyKey)
				}
				Expect(keys).To(ContainElement("kubernetes.io/hostname"))
			})

			It("leaves the replica count to the autoscaler: the Deployment sets none", func() {
				Expect(r.hpa.Spec.ScaleTargetRef.Kind).To(Equal("Deployment"))
				Expect(r.hpa.Spec.ScaleTargetRef.Name).To(Equal(r.deployment.Name))
				Expect(r.deployment.Spec.Replicas).To(BeNil(),
					"spec.replicas on an autoscaled Deployment: every kubectl apply resets what the autoscaler chose")
			})

			It("scales down one pod at a time, as the budget would, each given its grace", func() {
				b := r.hpa.Spec.Behavior
				Expect(b).NotTo(BeNil(), "the autoscaler's default scale-down may remove every surplus pod at once")
				Expect(b.ScaleDown).NotTo(BeNil())
				if b.ScaleDown.SelectPolicy != nil && *b.ScaleDown.SelectPolicy == autoscalingv2.DisabledPolicySelect {
					return // never scales down: nothing to bound
				}
				Expect(b.ScaleDown.Policies).NotTo(BeEmpty())
				Expect(r.pdb.Spec.MaxUnavailable).NotTo(BeNil())
				Expect(r.pdb.Spec.MaxUnavailable.Type).To(Equal(intstr.Int))
				grace := seconds(int32(*r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds))
				for _, p := range b.ScaleDown.Policies {
					Expect(p.Type).To(Equal(autoscalingv2.PodsScalingPolicy), "a percentage of 10 pods is not one pod")
					Expect(p.Value).To(BeNumerically("<=", r.pdb.Spec.MaxUnavailable.IntVal),
						"scale-down removes more pods a period than the budget lets go")
					Expect(seconds(p.PeriodSeconds)).To(BeNumerically(">=", grace),
						"a pod is removed before the previous one has finished terminating")
				}
				Expect(b.ScaleDown.StabilizationWindowSeconds).To(HaveValue(BeNumerically(">=", 60)), "a brief lull drops no warm replica")
			})

			It("routes the Service, the budget and the autoscaler to the API pods", func() {
				pod := r.deployment.Spec.Template
				Expect(selects(r.service.Spec.Selector, pod.Labels)).To(BeTrue(), "Service selector")
				Expect(r.service.Spec.Ports).NotTo(BeEmpty())
				for _, p := range r.service.Spec.Ports {
					Expect(containerPort(api, p.TargetPort)).To(BeNumerically(">", 0))
				}
				Expect(selects(r.pdb.Spec.Selector.MatchLabels, pod.Labels)).To(BeTrue(), "PDB selector")
				Expect(r.pdb.Spec.MaxUnavailable != nil || r.pdb.Spec.MinAvailable != nil).To(BeTrue())
				Expect(r.pdb.Spec.UnhealthyPodEvictionPolicy).To(HaveValue(Equal(policyv1.AlwaysAllow)),
					"an unready pod (migrations pending) must not block a node drain")

				Expect(r.hpa.Spec.MinReplicas).NotTo(BeNil())
				Expect(r.hpa.Spec.MaxReplicas).To(BeNumerically(">=", *r.hpa.Spec.MinReplicas))
				Expect(r.hpa.Spec.Metrics).To(ContainElement(Satisfy(func(m autoscalingv2.MetricSpec) bool {
					return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU
				})), "an HPA on CPU")
				for _, sa := range r.accounts {
					Expect(sa.AutomountServiceAccountToken).To(HaveValue(BeFalse()))
				}
			})

			It("admits traffic on the API port, the admin port only from monitoring namespaces, and lets out only PostgreSQL, DNS and traces", func() {
				np := r.netpol.Spec
				Expect(selects(np.PodSelector.MatchLabels, r.deployment.Spec.Template.Labels)).To(BeTrue(), "the API pods")
				Expect(np.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
				Expect(np.Ingress).NotTo(BeEmpty())
				httpPort := containerPort(api, intstr.FromString("http"))
				adminPort := containerPort(api, intstr.FromString("admin"))
				Expect(adminPort).To(BeNumerically(">", 0), "the pod names its admin port")
				Expect(adminPort).NotTo(Equal(httpPort))
				admitted := false
				for _, rule := range np.Ingress {
					Expect(rule.Ports).NotTo(BeEmpty(), "an ingress rule open on every port")
					for _, p := range rule.Ports {
						Expect(p.Port).NotTo(BeNil())
						port := containerPort(api, *p.Port)
						Expect(port).To(BeElementOf(httpPort, adminPort), "ingress to port %s", p.Port.String())
						if port != adminPort {
							continue
						}
						// Only from namespaces that carry the monitoring label, never from anywhere.
						Expect(rule.From).NotTo(BeEmpty(), "the admin port open to every source")
						for _, peer := range rule.From {
							Expect(peer.IPBlock).To(BeNil())
							Expect(peer.NamespaceSelector).NotTo(BeNil())
							Expect(peer.NamespaceSelector.MatchLabels).To(HaveKeyWithValue("monitoring", "true"))
						}
						admitted = true
					}
				}
				Expect(admitted).To(BeTrue(), "Prometheus must reach the admin port")
				pod := r.deployment.Spec.Template
				Expect(pod.Annotations).To(HaveKeyWithValue("prometheus.io/scrape", "true"))
				Expect(pod.Annotations).To(HaveKeyWithValue("prometheus.io/port", strconv.Itoa(int(adminPort))))
				Expect(pod.Annotations).To(HaveKeyWithValue("prometheus.io/path", "/metrics"))
				Expect(api.Env).To(ContainElement(corev1.EnvVar{Name: "ADMIN_ADDR", Value: "0.0.0.0:" + strconv.Itoa(int(adminPort))}),
					"the admin listener on the pod's address, at the port named admin")
				for _, p := range r.service.Spec.Ports {
					Expect(containerPort(api, p.TargetPort)).NotTo(Equal(adminPort), "the Service routes the admin port")
				}
				Expect(np.Egress).NotTo(BeEmpty())
				for _, rule := range np.Egress {
					Expect(rule.Ports).NotTo(BeEmpty(), "an egress rule open on every port")
					for _, p := range rule.Ports {
						Expect(p.Port).NotTo(BeNil())
						Expect(p.EndPort).To(BeNil())
						Expect([]int32{postgresPort, 53, otlpPort(api)}).To(ContainElement(p.Port.IntVal), "egress to port %s", p.Port.String())
					}
				}
			})

			if overlay == "prod" {
				It("keeps at least three replicas of a pinned image, never :latest", func() {
					Expect(*r.hpa.Spec.MinReplicas).To(BeNumerically(">=", 3))
					pod := r.deployment.Spec.Template.Spec
					for _, c := range append(slices.Clone(pod.Containers), pod.InitContainers...) {
						tag := imageTag(c.Image)
						Expect(tag).NotTo(BeEmpty(), "%s: image %s has no tag", c.Name, c.Image)
						Expect(tag).NotTo(Equal("latest"), "%s: image %s", c.Name, c.Image)
						Expect(c.ImagePullPolicy).NotTo(Equal(corev1.PullAlways))
					}
				})

				It("lets out PostgreSQL traffic only to the database's network", func() {
					for _, rule := range r.netpol.Spec.Egress {
						if slices.ContainsFunc(rule.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port.IntVal == postgresPort }) {
							Expect(rule.To).NotTo(BeEmpty(), "PostgreSQL egress open to every address")
						}
					}
				})
			}
		})
	}
})
