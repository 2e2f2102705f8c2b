#!/usr/bin/env bash
# Local development mail stack for surety-intake: a real Postfix and a real Dovecot
# on 127.0.0.1, plus a capture SMTP server standing in for the Internet.
#
#   Postfix   127.0.0.1:25   SMTP with STARTTLS, myhostname mail.city.example.jp
#             city.example.jp -> LMTP to Dovecot; every other domain -> capture server;
#             closed.example.co.jp has no mailbox at all: 550 at RCPT (a contractor's
#             address that the Internet refuses for good)
#   Dovecot   127.0.0.1:143  IMAP (STARTTLS, plaintext login allowed)
#             127.0.0.1:993  IMAPS (implicit TLS)
#             127.0.0.1:24   LMTP (used by Postfix only)
#   capture   127.0.0.1:2526 deploy/dev/capture.py, stores each message as .eml
#   Postfix   127.0.0.1:2527 (tests only) takes mail and puts it on hold: a server that
#             answered 250 but has not delivered yet ("postsuper -H ALL" releases it)
#   Postfix   127.0.0.1:2528 (tests only) SMTP that takes mail only after AUTH (SASL by
#             Dovecot: PLAIN/LOGIN with the password, XOAUTH2/OAUTHBEARER with a token)
#   Dovecot   127.0.0.1:2529 its auth service, for Postfix's SASL only
#
# Usage: mailstack.sh up|down|reset|status      (as root)
#   up      install what is missing (packages.txt), configure, then start or reload and
#           wait for every port (stackctl.py start); safe to run again at any time
#   down    stop the three services (stackctl.py stop)
#   reset   empty every mailbox, the Postfix queue and the capture directory
#   status  one line per service (stackctl.py status); exit status 3 if one is stopped
#
# Installing and configuring happen here; starting, stopping, waiting and status in
# deploy/dev/stackctl.py (standard library Python, shared with the tests: tests/stack.py).
#
# Environment:
#   MAILSTACK_DIR       state directory (default /var/lib/surety-mailstack)
#   MAILSTACK_PASSWORD  IMAP password of every user (default intake-dev-pass)
#   PYTHON              runs stackctl.py, and the capture server, which needs aiosmtpd
#                       (default python3: enough for down and status; up needs the venv's)
#
# OAuth2: Dovecot also takes XOAUTH2 and OAUTHBEARER with a JWT (HS256) signed with the key
# in $MAILSTACK_DIR/oauth2/keys/default/HS256/default (base64; made once, readable by root
# and the dovecot group): the tests' token server (tests/tokenserver.py) signs with it.
#
# Clients verify TLS against $MAILSTACK_DIR/tls/ca.pem (server cert: CN=localhost,
# SAN DNS:localhost, IP:127.0.0.1).
#
# Postfix is configured in place (/etc/postfix/main.cf, original saved as main.cf.orig);
# Dovecot runs as a separate instance from $MAILSTACK_DIR/dovecot.conf (made from
# deploy/dev/dovecot.conf.in), so pass `-c $MAILSTACK_DIR/dovecot.conf` to doveadm/doveconf.
set -euo pipefail

MAILSTACK_DIR="${MAILSTACK_DIR:-/var/lib/surety-mailstack}"
MAILSTACK_PASSWORD="${MAILSTACK_PASSWORD:-intake-dev-pass}"
PYTHON="${PYTHON:-python3}"

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/dev/packages.sh
source "$SCRIPT_DIR/packages.sh"

DOMAIN="city.example.jp"
CLOSED_DOMAIN="closed.example.co.jp"
MYHOSTNAME="mail.city.example.jp"
USERS=(
    "keiyaku@$DOMAIN"
    "keiyaku-hosho@$DOMAIN"
    "maebarai@$DOMAIN"
    "review@$DOMAIN"
    "surety-intake@$DOMAIN"
)
CAPTURE_PORT=2526  # the ports are listed for stackctl.py in its PORTS too
HOLD_PORT=2527
AUTH_PORT=2528
DOVECOT_AUTH_PORT=2529

TLS_DIR="$MAILSTACK_DIR/tls"
LOG_DIR="$MAILSTACK_DIR/log"
MAIL_DIR="$MAILSTACK_DIR/mail"
CAPTURE_DIR="$MAILSTACK_DIR/capture"
RUN_DIR="$MAILSTACK_DIR/run"
DOVECOT_CONF="$MAILSTACK_DIR/dovecot.conf"
DOVECOT_BASE="$RUN_DIR/dovecot"
DOVECOT_PASSWD="$MAILSTACK_DIR/dovecot.passwd"
POSTFIX_VMAILBOX="$MAILSTACK_DIR/postfix-vmailbox"
OAUTH2_DIR="$MAILSTACK_DIR/oauth2"
OAUTH2_CONF="$MAILSTACK_DIR/dovecot-oauth2.conf.ext"

log() { printf 'mailstack: %s\n' "$*" >&2; }
die() { printf 'mailstack: error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (it configures Postfix and binds ports < 1024)"
}

# Start, stop, wait, status: deploy/dev/stackctl.py, with the same state directory.
stackctl() {
    MAILSTACK_DIR="$MAILSTACK_DIR" "$PYTHON" "$SCRIPT_DIR/stackctl.py" "$@"
}

# --------------------------------------------------------------------------- up: steps

# The distribution's own Dovecot instance (config /etc/dovecot, base dir /run/dovecot)
# would hold ports 143/993. The package starts it on install; stop it.
stop_system_dovecot() {
    if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet dovecot.service 2>/dev/null; then
        log "disabling the system dovecot.service (this stack runs its own instance)"
        systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
    fi
    start-stop-daemon --stop --quiet --oknodo --retry TERM/5 \
        --pidfile /run/dovecot/master.pid --exec "$(command -v dovecot)" || true
}

ensure_vmail_user() {
    if ! getent group vmail >/dev/null; then
        groupadd --system vmail
    fi
    if ! getent passwd vmail >/dev/null; then
        useradd --system --gid vmail --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin --comment "surety dev mail stack mailboxes" vmail
    fi
}

make_dirs() {
    install -d -m 0755 "$MAILSTACK_DIR" "$TLS_DIR" "$LOG_DIR" "$CAPTURE_DIR" "$RUN_DIR"
    install -d -m 0750 -o vmail -g vmail "$MAIL_DIR"
}

# A small CA and a server certificate for localhost / 127.0.0.1 signed by it.
# The extensions satisfy strict verifiers too (Python 3.13's VERIFY_X509_STRICT).
ensure_tls() {
    local ca="$TLS_DIR/ca.pem" ca_key="$TLS_DIR/ca.key"
    local crt="$TLS_DIR/server.pem" key="$TLS_DIR/server.key"

    if [[ ! -s $ca || ! -s $ca_key ]] || ! openssl x509 -in "$ca" -noout -checkend 86400 >/dev/null 2>&1; then
        log "creating CA $ca"
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$ca_key" -out "$ca" -days 3650 -sha256 \
            -subj "/O=surety-intake dev/CN=surety-intake dev mail stack CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -addext "subjectKeyIdentifier=hash" 2>/dev/null
        rm -f "$crt" "$key"
    fi
    if [[ ! -s $crt || ! -s $key ]] \
        || ! openssl verify -CAfile "$ca" "$crt" >/dev/null 2>&1 \
        || ! openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1; then
        log "creating server certificate $crt"
        local ext
        ext="$(mktemp)"
        cat >"$ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$key" -out "$TLS_DIR/server.csr" -subj "/CN=localhost" 2>/dev/null
        openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$ca" -CAkey "$ca_key" \
            -CAcreateserial -out "$crt" -days 825 -sha256 -extfile "$ext" 2>/dev/null
        rm -f "$ext" "$TLS_DIR/server.csr"
    fi
    # Postfix and Dovecot read the key as root before dropping privileges.
    chmod 0600 "$ca_key" "$key"
    chmod 0644 "$ca" "$crt"
}

check_password() {
    case "$MAILSTACK_PASSWORD" in
        *:* | *$'\n'* | "") die "MAILSTACK_PASSWORD must be non-empty and hold no ':' or newline" ;;
    esac
}

# Write $2 to file $1 only when the content changed (keeps mtimes stable).
write_if_changed() {
    local target="$1" content="$2"
    if [[ ! -f $target ]] || [[ "$(cat "$target")" != "$content" ]]; then
        printf '%s\n' "$content" >"$target"
    fi
}

configure_postfix() {
    # Installed with "No configuration", Postfix has no main.cf: start from Debian's.
    [[ -e /etc/postfix/main.cf ]] || cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
    [[ -e /etc/postfix/master.cf ]] || cp /usr/share/postfix/master.cf.dist /etc/postfix/master.cf
    [[ -e /etc/postfix/main.cf.orig ]] || cp -p /etc/postfix/main.cf /etc/postfix/main.cf.orig
    [[ -e /etc/postfix/master.cf.orig ]] || cp -p /etc/postfix/master.cf /etc/postfix/master.cf.orig

    local vmailbox="" u
    for u in "${USERS[@]}"; do vmailbox+="$u OK"$'\n'; done
    write_if_changed "$POSTFIX_VMAILBOX" "${vmailbox%$'\n'}"
    chmod 0644 "$POSTFIX_VMAILBOX"

    # maillog_file must lie under one of maillog_file_prefixes.
    local prefixes="/var, /dev/stdout"
    [[ $MAILSTACK_DIR == /var/* ]] || prefixes+=", $LOG_DIR"

    # Written exactly as "postconf -n" prints them, so unchanged ones can be skipped.
    local settings=(
        "myhostname = $MYHOSTNAME"
        "mydomain = $DOMAIN"
        "myorigin = \$myhostname"
        "mydestination ="
        "inet_interfaces = loopback-only"
        "inet_protocols = ipv4"
        "mynetworks = 127.0.0.0/8"
        "relayhost = [127.0.0.1]:$CAPTURE_PORT"
        "smtp_dns_support_level = disabled"
        "disable_dns_lookups = yes"
        "virtual_mailbox_domains = $DOMAIN $CLOSED_DOMAIN"
        "virtual_mailbox_maps = texthash:$POSTFIX_VMAILBOX"
        "virtual_alias_maps ="
        "virtual_transport = lmtp:inet:127.0.0.1:24"
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
        "smtpd_tls_cert_file = $TLS_DIR/server.pem"
        "smtpd_tls_key_file = $TLS_DIR/server.key"
        "smtpd_tls_security_level = may"
        "smtpd_tls_received_header = yes"
        "smtpd_tls_loglevel = 1"
        "smtp_tls_security_level = may"
        "maillog_file_prefixes = $prefixes"
        "maillog_file = $LOG_DIR/postfix.log"
        # Retry quickly in development (e.g. after the capture server was down).
        "minimal_backoff_time = 10s"
        "maximal_backoff_time = 60s"
        "queue_run_delay = 10s"
    )
    # Only write what differs: every Postfix program started within ~2 s after
    # main.cf/master.cf changed sleeps until the file is 2 s old.
    local current changes=() kv
    current="$(postconf -n)"
    for kv in "${settings[@]}"; do
        grep -qxF -- "$kv" <<<"$current" || changes+=("$kv")
    done
    if ((${#changes[@]} > 0)); then
        postconf -e "${changes[@]}"
    fi
    # No chroot: nothing needs copying into /var/spool/postfix, works in containers.
    # (postconf -F rewrites master.cf, reordering entries, even when nothing changes.)
    local chroot_changed=0
    if postconf -F '*/*/chroot' | grep -qv ' = n$'; then
        postconf -F '*/*/chroot = n'
        chroot_changed=1
    fi
    local hold="127.0.0.1:$HOLD_PORT/inet"
    if [[ "$(postconf -M "$hold" 2>/dev/null)" != *static:HOLD* ]]; then
        postconf -M "$hold=127.0.0.1:$HOLD_PORT inet n - n - - smtpd -o smtpd_end_of_data_restrictions=check_client_access,static:HOLD"
        chroot_changed=1
    fi

    local auth="127.0.0.1:$AUTH_PORT/inet"
    if [[ "$(postconf -M "$auth" 2>/dev/null)" != *"inet:127.0.0.1:$DOVECOT_AUTH_PORT"* ]]; then
        postconf -M "$auth=127.0.0.1:$AUTH_PORT inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot -o smtpd_sasl_path=inet:127.0.0.1:$DOVECOT_AUTH_PORT -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
        chroot_changed=1
    fi

    if [[ ! -e /etc/aliases ]]; then
        printf 'postmaster: root\n' >/etc/aliases
    fi
    if [[ ! -e /etc/aliases.db || /etc/aliases -nt /etc/aliases.db ]]; then
        newaliases
    fi
    # "postfix check" is slow-ish, so only after a change.
    if ((${#changes[@]} > 0 || chroot_changed)); then
        postfix check || log "warning: 'postfix check' reported problems (see above)"
    fi
}

# Print template $1 with each @NAME@ replaced for the arguments NAME=value.
fill_template() {
    local template="$1" text kv
    text="$(<"$template")"
    shift
    for kv in "$@"; do text="${text//"@${kv%%=*}@"/"${kv#*=}"}"; done
    [[ ! $text =~ @[A-Z_]+@ ]] || die "$template: no value for ${BASH_REMATCH[0]}"
    printf '%s' "$text"
}

# Dovecot's oauth2 passdb, validating JWTs locally (introspection_mode = local) with an
# HMAC key looked up as <prefix><azp>/<alg>/<kid>: "default" for a token without azp and
# kid. The key is made once and kept (a token signed before a re-run stays valid).
write_oauth2_config() {
    local key="$OAUTH2_DIR/keys/default/HS256/default"
    install -d -m 0750 -g dovecot "$OAUTH2_DIR" "$OAUTH2_DIR/keys" "$OAUTH2_DIR/keys/default" \
        "$OAUTH2_DIR/keys/default/HS256"
    if [[ ! -s $key ]]; then
        log "creating the OAuth2 signing key $key"
        openssl rand -base64 32 | tr -d '\n' >"$key"
    fi
    chown root:dovecot "$key"
    chmod 0640 "$key"
    write_if_changed "$OAUTH2_CONF" "introspection_mode = local
local_validation_key_dict = fs:posix:prefix=$OAUTH2_DIR/keys/
username_attribute = email"
    chmod 0644 "$OAUTH2_CONF"
}

write_dovecot_config() {
    local passwd="" u
    for u in "${USERS[@]}"; do passwd+="$u:{PLAIN}$MAILSTACK_PASSWORD::::::"$'\n'; done
    # Dovecot re-reads a passwd-file when it changes, so a new password needs no reload.
    write_if_changed "$DOVECOT_PASSWD" "${passwd%$'\n'}"
    chown root:dovecot "$DOVECOT_PASSWD"
    chmod 0640 "$DOVECOT_PASSWD"

    write_oauth2_config
    write_if_changed "$DOVECOT_CONF" "$(fill_template "$SCRIPT_DIR/dovecot.conf.in" \
        DOVECOT_CONF="$DOVECOT_CONF" DOVECOT_BASE="$DOVECOT_BASE" MYHOSTNAME="$MYHOSTNAME" \
        LOG_DIR="$LOG_DIR" TLS_DIR="$TLS_DIR" MAIL_DIR="$MAIL_DIR" DOMAIN="$DOMAIN" \
        DOVECOT_PASSWD="$DOVECOT_PASSWD" OAUTH2_CONF="$OAUTH2_CONF" VMAIL_UID="$(id -u vmail)" \
        VMAIL_GID="$(getent group vmail | cut -d: -f3)")"
    chmod 0644 "$DOVECOT_CONF"
    doveconf -c "$DOVECOT_CONF" -n >/dev/null || die "invalid Dovecot configuration $DOVECOT_CONF"
}

# --------------------------------------------------------------------------- commands

cmd_up() {
    require_root
    check_password
    local start=$SECONDS
    install_packages
    stop_system_dovecot
    ensure_vmail_user
    make_dirs
    ensure_tls
    configure_postfix
    write_dovecot_config
    stackctl start || die "the mail stack did not come up (see above)"
    # shellcheck disable=SC2016 # "$MAILSTACK_PASSWORD" is printed literally on purpose
    printf 'mailstack up (%ss): smtp 127.0.0.1:25 (STARTTLS), imap 127.0.0.1:143 (STARTTLS) + 993 (TLS), lmtp 127.0.0.1:24, capture 127.0.0.1:%s -> %s; %d users @%s, password $MAILSTACK_PASSWORD; CA %s\n' \
        "$((SECONDS - start))" "$CAPTURE_PORT" "$CAPTURE_DIR" "${#USERS[@]}" "$DOMAIN" "$TLS_DIR/ca.pem"
}

cmd_down() {
    require_root
    stackctl stop || die "the mail stack did not stop (see above)"
    echo "mailstack down"
}

cmd_reset() {
    require_root
    # Postfix queue: drop anything not yet delivered (or deferred).
    if [[ -d /var/spool/postfix/maildrop ]]; then
        postsuper -d ALL >/dev/null 2>&1 || true
    fi

    # Mailboxes: end the users' IMAP sessions, then move each home (Maildir, indexes,
    # UID state) aside in one rename and delete it. The next login or LMTP delivery
    # recreates an empty INBOX (UIDNEXT 1). Only the Maildir's dovecot-uidvalidity
    # counter is carried over, so the new INBOX gets a UIDVALIDITY greater than the
    # old one even when both are created within the same second.
    doveadm -c "$DOVECOT_CONF" kick '*' >/dev/null 2>&1 || true
    if [[ -d $MAIL_DIR ]]; then
        local trash="$MAIL_DIR/.reset-$$" home uidv
        rm -rf -- "$MAIL_DIR"/.reset-*
        mkdir "$trash"
        for home in "$MAIL_DIR"/*; do
            [[ -d $home ]] || continue
            uidv=""
            if [[ -r $home/Maildir/dovecot-uidvalidity ]]; then
                uidv="$(<"$home/Maildir/dovecot-uidvalidity")"
            fi
            mv -- "$home" "$trash/"
            if [[ $uidv =~ ^[0-9a-fA-F]{1,8}$ ]]; then
                install -d -m 0700 -o vmail -g vmail "$home" "$home/Maildir"
                printf '%s' "$uidv" >"$home/Maildir/dovecot-uidvalidity"
                chown vmail:vmail "$home/Maildir/dovecot-uidvalidity"
                chmod 0600 "$home/Maildir/dovecot-uidvalidity"
            fi
        done
        rm -rf -- "$trash"
    fi

    # Captured outgoing messages (and any half-written temp files).
    if [[ -d $CAPTURE_DIR ]]; then
        find "$CAPTURE_DIR" -mindepth 1 -maxdepth 1 -type f -delete
    fi
    echo "mailstack reset"
}

cmd_status() {
    stackctl status
}

usage() {
    echo "usage: $0 up|down|reset|status" >&2
    exit 2
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    reset) cmd_reset ;;
    status) cmd_status ;;
    *) usage ;;
esac
