# harvester.network: the commands the README shows.
.PHONY: test setup sanity unit bench lab lab-down clean-cache

test:          ## install what is missing, then sanity + unit + cluster + host integration tests
	bash scripts/test.sh

setup:         ## only install (apt packages, venv, test kernel, kube-apiserver)
	bash scripts/setup.sh

sanity:
	TEST_PHASES=sanity bash scripts/test.sh

unit:
	TEST_PHASES=unit bash scripts/test.sh
