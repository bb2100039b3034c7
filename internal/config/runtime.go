package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Runtime says where Layers 2 to 6 run the images: containers of the Docker engine, or pods of
// a Kubernetes cluster. `plimsoll check --runtime` overrides it.
type Runtime struct {
	// Engine is "docker" (the default) or "kubernetes".
	Engine string `yaml:"engine"`
	// Namespace is where the pods run on Kubernetes; "" means the kubeconfig context's.
	Namespace string `yaml:"namespace"`
	// NodeSelector schedules the pods onto nodes with these labels only (a pool of nodes kept
	// for checks, say); OLD and NEW of one run always share a node.
	NodeSelector map[string]string `yaml:"nodeSelector"`
}

// Engines are the values of runtime.engine; the first is the default.
var Engines = []string{"docker", "kubernetes"}

// EngineName is the engine, "docker" when the policy leaves it out.
func (r Runtime) EngineName() string {
	if r.Engine == "" {
		return Engines[0]
	}
	return r.Engine
}

func (r Runtime) problems(path string) []*Problem {
	var ps []*Problem
	if r.Engine != "" && !slices.Contains(Engines, r.Engine) {
		ps = append(ps, &Problem{Path: path + ".engine", Msg: fmt.Sprintf("%q: use %s", r.Engine, strings.Join(Engines, " or "))})
	}
	if r.Namespace != "" {
		if errs := validation.IsDNS1123Label(r.Namespace); len(errs) > 0 {
			ps = append(ps, &Problem{Path: path + ".namespace", Msg: fmt.Sprintf("%q: %s", r.Namespace, strings.Join(errs, "; "))})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.NodeSelector)) {
		errs := validation.IsQualifiedName(k)
		errs = append(errs, validation.IsValidLabelValue(r.NodeSelector[k])...)
		if len(errs) > 0 {
			ps = append(ps, &Problem{Path: path + ".nodeSelector." + k, Msg: strings.Join(errs, "; ")})
		}
	}
	return ps
}
