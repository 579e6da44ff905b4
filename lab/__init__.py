"""The harvester.network lab: a small Harvester-style site on one Linux machine, converged by playbooks/site.yml."""
