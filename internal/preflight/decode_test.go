package preflight

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestDecodeAll(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int
		err      bool
	}{
		{"empty", "", 0, false},
		{"two and blanks", "---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n", 2, false},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", 0, true},
		{"not yaml", "apiVersion: [\n", 0, true},
		{"a list", "- a\n- b\n", 0, true},
	} {
		got, err := decodeAll([]byte(tc.in))
		if (err != nil) != tc.err || len(got) != tc.want {
			t.Errorf("%s: %d objects, %v; want %d, error %v", tc.name, len(got), err, tc.want, tc.err)
		}
	}
}

func FuzzDecodeAll(f *testing.F) {
	for _, s := range []string{"", "---\n", "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n", "a: [", "- 1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		objs, err := decodeAll([]byte(s))
		if err != nil {
			return
		}
		for _, o := range objs {
			if o.GetKind() == "" || o.GetName() == "" || o.GetAPIVersion() == "" {
				t.Fatalf("accepted an incomplete object %v", o.Object)
			}
		}
	})
}

func TestUsableNode(t *testing.T) {
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	notReady := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}
	for _, tc := range []struct {
		name string
		node corev1.Node
		want bool
	}{
		{"ready", corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, true},
		{"not ready", corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{notReady}}}, false},
		{"no condition", corev1.Node{}, false},
		{"cordoned", corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, false},
		{"NoSchedule taint", corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, false},
		{"PreferNoSchedule taint", corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectPreferNoSchedule}}}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, true},
	} {
		if got, why := usableNode(&tc.node); got != tc.want {
			t.Errorf("%s: usable = %v (%s), want %v", tc.name, got, why, tc.want)
		}
	}
}

func TestPodRequests(t *testing.T) {
	q := resource.MustParse
	spec := corev1.PodSpec{
		Containers: []corev1.Container{
			{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("64Mi")}}},
			{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("200m")}}},
		},
		InitContainers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: q("1Gi")}}}},
		Overhead:       corev1.ResourceList{corev1.ResourceCPU: q("10m")},
	}
	cpu, mem := podRequests(&spec)
	if cpu.Cmp(q("310m")) != 0 || mem.Cmp(q("1Gi")) != 0 {
		t.Errorf("requests = cpu %s, memory %s; want 310m, 1Gi", cpu.String(), mem.String())
	}
}
