#!/usr/bin/env bash
# Run `ansible-test sanity` on the checkout. ansible-test wants the collection under
# ansible_collections/<namespace>/<name>: copy the files git knows into such a tree.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv=$(cd "${VENV:-$top/.venv}" && pwd)
py=${PYTHON_VERSION:-3.11}

# Offline pip bootstrap, keyed by the pip version this ansible-test pins.
pip_version=$("$venv/bin/python" -c \
  'from ansible_test._internal.python_requirements import get_venv_packages as g
from ansible_test._internal.host_configs import PythonConfig as P
class C: version = "'"$py"'"
print(g(C)["pip"])')
cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
cp "$top/scripts/get_pip_standin.py" "$cache"

work=$(mktemp -d /tmp/vnet-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/vnet/lab
mkdir -p "$dest"
cd "$top"
git ls-files -co --exclude-standard -z | grep -zv '^\.collections/' \
  | while IFS= read -r -d '' file; do
      if [ -e "$file" ]; then cp --parents -P "$file" "$dest"/; fi
    done
cd "$dest"
git init -q . && git add -A >/dev/null 2>&1
PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "$py" --color no "$@"
