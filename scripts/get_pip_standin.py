"""Offline stand-in for ansible-test's pip bootstrap script.

ansible-test bootstraps pip in each sanity virtual environment by running a get-pip script it
downloads from a host this machine cannot reach; it runs the copy in its cache without checking
it. This stand-in does the same job with the standard library's ensurepip, then installs the
packages ansible-test asked for (pinned pip) from the package index.
"""

import subprocess
import sys

# get-pip options that `pip install` does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null for the rest of its process,
# and the install below must see the machine's pip configuration (index, certificates).
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
