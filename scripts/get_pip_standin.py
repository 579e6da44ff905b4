"""Offline stand-in for the get-pip.py script ansible-test downloads to bootstrap pip in its venvs.

ansible-test runs ``python get_pip.py [pip options] pip==X ... --no-setuptools --no-wheel``. This installs
CPython's bundled pip with ensurepip, then lets that pip install the requested packages from the package
index this machine reaches (ansible-test strips PIP_CERT and friends from the environment: put them back).
"""

import os
import subprocess
import sys

CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'


def main():
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    env = dict(os.environ)
    if os.path.exists(CA_BUNDLE):
        env.setdefault('PIP_CERT', CA_BUNDLE)
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], env=env)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check'] + args, env=env)


if __name__ == '__main__':
    main()
