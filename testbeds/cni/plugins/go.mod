// Builds the reference CNI plugins the lab's VM stand-ins use (the bridge plugin) from published Go modules.
// Debian 12 ships containernetworking-plugins 1.1.1, whose bridge plugin has no preserveDefaultVlan option.
module github.com/harvester-network/testbeds/cni/plugins

go 1.23

require github.com/containernetworking/plugins v1.6.2

require (
	github.com/containernetworking/cni v1.2.3 // indirect
	github.com/coreos/go-iptables v0.8.0 // indirect
	github.com/networkplumbing/go-nft v0.4.0 // indirect
	github.com/safchain/ethtool v0.5.9 // indirect
	github.com/vishvananda/netlink v1.3.0 // indirect
	github.com/vishvananda/netns v0.0.4 // indirect
	golang.org/x/sys v0.27.0 // indirect
	sigs.k8s.io/knftables v0.0.18 // indirect
)
