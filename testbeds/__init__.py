"""Test beds for harvester.network: a real Linux kernel (QEMU guest when the host lacks the
features) and a real kube-apiserver with etcd.  Not shipped in the collection artifact."""
