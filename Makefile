# harvester.network: the commands the README shows.
.PHONY: test setup sanity unit bench bench-host bench-host-native bench-cluster bench-scale lab lab-plain lab-down lab-slices bench-nodes

test:          ## install what is missing, then sanity + unit + cluster + host integration tests
	bash scripts/test.sh

setup:         ## only install (apt packages, venv, test kernel, kube-apiserver)
	bash scripts/setup.sh

sanity:
	TEST_PHASES=sanity bash scripts/test.sh

unit:
	TEST_PHASES=unit bash scripts/test.sh

# Benchmarks (results are written into docs/benchmarks.md; not timed tests).
BENCH_PYTHON = $${HARVESTER_NETWORK_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/harvester-network}/venv/bin/python

bench: bench-host bench-host-native bench-cluster bench-scale bench-nodes

bench-host:    ## converge a benchmark node with the engine vs ip/bridge -batch, in the kernel bed
	bash scripts/setup.sh
	HN_HOST_LOAD="$$(cut -d' ' -f1-3 /proc/loadavg)" $(BENCH_PYTHON) -m testbeds.kernel run --timeout 3600 --rw docs --env HN_HOST_LOAD -- $(BENCH_PYTHON) benchmarks/host/bench_converge.py --write docs/benchmarks.md

bench-host-native: ## the engine's no-op re-check at 1000 ports and a host module task's CPU cost, on this machine's kernel
	bash scripts/setup.sh
	$(BENCH_PYTHON) benchmarks/host/bench_converge.py --native --write docs/benchmarks.md

bench-cluster: ## 500 VLAN networks: harvester.network vs a kubernetes.core.k8s loop, against the cluster bed
	bash scripts/setup.sh
	$(BENCH_PYTHON) benchmarks/cluster/bench_vlan_networks.py

bench-scale:   ## 500 and 5000 VLAN networks (+ VMs): create, no-op, prune half; requests, pages, memory; vs a k8s loop
	bash scripts/setup.sh
	$(BENCH_PYTHON) benchmarks/cluster/bench_scale.py

# The lab (docs/lab.md): a small Harvester site on this machine, converged by playbooks/site.yml and proven.
LAB_PYTHON = $${HARVESTER_NETWORK_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/harvester-network}/venv/bin/python

lab:           ## install what is missing, bring the lab up, converge it, prove it, print the report; it stays up
	bash scripts/setup.sh
	$(LAB_PYTHON) -m lab up

lab-plain:     ## the lab on plain KubeVirt + Multus (no Harvester): site.yml finds out, what needs Harvester is n/a
	bash scripts/setup.sh
	$(LAB_PYTHON) -m lab up --profile plain

lab-down:      ## stop and remove everything the lab runs and made
	$(LAB_PYTHON) -m lab down

lab-slices:    ## site.yml unsliced, then after drift in 4 slices as AWX job slicing runs it, then again, on a fresh lab (docs/awx.md)
	bash scripts/setup.sh
	$(LAB_PYTHON) -m lab.slices --slices $${HN_LAB_SLICES:-4} --write docs/benchmarks.md

bench-nodes:   ## site.yml converge and no-op re-run on the lab with N = 2, 4, 8, 16 nodes (HN_LAB_NODES); docs/benchmarks.md
	bash scripts/setup.sh
	$(LAB_PYTHON) benchmarks/lab/bench_nodes.py --nodes $${HN_BENCH_NODES:-2,4,8,16} --write docs/benchmarks.md
