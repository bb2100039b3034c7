package kube

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// TestShippedRBAC checks that deploy/rbac/plimsoll-check.yaml grants every call the runtime
// makes: a verb dropped from it would fail checks on a cluster with "forbidden".
func TestShippedRBAC(t *testing.T) {
	raw, err := os.ReadFile("../../../deploy/rbac/plimsoll-check.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch o := obj.(type) {
		case *rbacv1.Role:
			rules = append(rules, o.Rules...)
		case *rbacv1.ClusterRole:
			rules = append(rules, o.Rules...)
		}
	}
	allowed := func(resource, verb string) bool {
		return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb)
		})
	}
	for _, need := range [][2]string{
		{"pods", "create"}, {"pods", "get"}, {"pods", "list"}, {"pods", "watch"}, {"pods", "delete"},
		{"pods/log", "get"}, {"pods/exec", "create"}, {"pods/portforward", "create"}, {"nodes/proxy", "get"}, {"nodes", "get"},
	} {
		if !allowed(need[0], need[1]) {
			t.Errorf("the shipped RBAC does not allow %s %s", need[1], need[0])
		}
	}
	for _, not := range [][2]string{{"pods", "update"}, {"secrets", "get"}, {"nodes", "delete"}} {
		if allowed(not[0], not[1]) {
			t.Errorf("the shipped RBAC allows %s %s, which the runtime never does", not[1], not[0])
		}
	}
}
