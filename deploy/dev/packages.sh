# Sourced by bootstrap.sh and mailstack.sh: install_packages installs what packages.txt
# lists and dpkg does not have yet (as root; quick when nothing is missing).

install_packages() {
    local list pkg missing=()
    list="$(dirname -- "${BASH_SOURCE[0]}")/packages.txt"
    for pkg in $(sed 's/#.*//' "$list"); do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    ((${#missing[@]} > 0)) || return 0
    echo "installing ${missing[*]}" >&2
    # Postfix asks how to configure itself; mailstack.sh configures it instead.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}
