//go:build tools

// Package tools pins the kube-apiserver command in this module's dependency graph.
// It is never compiled; the test bed runs
// "go build k8s.io/kubernetes/cmd/kube-apiserver" inside this module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
