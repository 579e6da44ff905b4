//go:build tools

// Package tools pins the CNI plugin commands testbeds.cni builds (go build <package> from this module).
package tools

import (
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
)
