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
#
# Usage: mailstack.sh up|down|reset|status      (as root)
#
# Environment:
#   MAILSTACK_DIR       state directory (default /var/lib/surety-mailstack)
#   MAILSTACK_PASSWORD  IMAP password of every user (default intake-dev-pass)
#   PYTHON              interpreter with aiosmtpd for the capture server (default python3)
#
# Clients verify TLS against $MAILSTACK_DIR/tls/ca.pem (server cert: CN=localhost,
# SAN DNS:localhost, IP:127.0.0.1).
#
# Postfix is configured in place (/etc/postfix/main.cf, original saved as main.cf.orig);
# Dovecot runs as a separate instance from $MAILSTACK_DIR/dovecot.conf, so pass
# `-c $MAILSTACK_DIR/dovecot.conf` to doveadm/doveconf.
set -euo pipefail

MAILSTACK_DIR="${MAILSTACK_DIR:-/var/lib/surety-mailstack}"
MAILSTACK_PASSWORD="${MAILSTACK_PASSWORD:-intake-dev-pass}"
PYTHON="${PYTHON:-python3}"

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
CAPTURE_PY="$SCRIPT_DIR/capture.py"

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
CAPTURE_PORT=2526
HOLD_PORT=2527
PORTS=(25 143 993 24 "$CAPTURE_PORT" "$HOLD_PORT")
WAIT_TIMEOUT=30

TLS_DIR="$MAILSTACK_DIR/tls"
LOG_DIR="$MAILSTACK_DIR/log"
MAIL_DIR="$MAILSTACK_DIR/mail"
CAPTURE_DIR="$MAILSTACK_DIR/capture"
RUN_DIR="$MAILSTACK_DIR/run"
DOVECOT_CONF="$MAILSTACK_DIR/dovecot.conf"
DOVECOT_BASE="$RUN_DIR/dovecot"
DOVECOT_PASSWD="$MAILSTACK_DIR/dovecot.passwd"
POSTFIX_VMAILBOX="$MAILSTACK_DIR/postfix-vmailbox"
CAPTURE_PID="$MAILSTACK_DIR/capture.pid"
CAPTURE_LAUNCHED=""  # pid of a capture server started by this run of "up"

log() { printf 'mailstack: %s\n' "$*" >&2; }
die() { printf 'mailstack: error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (it configures Postfix and binds ports < 1024)"
}

# --------------------------------------------------------------------------- helpers

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True if process $1 exists and is not a zombie. (Zombies matter here: the init of
# some containers reaps orphans only now and then, and kill -0 succeeds on them.)
proc_alive() {
    local pid="$1" stat
    [[ -n $pid ]] && read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
    stat="${stat##*) }"
    [[ ${stat%% *} != [ZX] ]]
}

# Wait up to $2 seconds (default 5) for process $1 to end; false if it did not.
wait_gone() {
    local pid="$1" i
    for ((i = 0; i < ${2:-5} * 20; i++)); do
        proc_alive "$pid" || return 0
        sleep 0.05
    done
    return 1
}

# Wait up to 5 s until nothing listens on any of the given ports.
wait_ports_closed() {
    local i p busy
    for ((i = 0; i < 100; i++)); do
        busy=0
        for p in "$@"; do port_open "$p" && busy=1; done
        ((busy)) || return 0
        sleep 0.05
    done
    return 1
}

# True if pid $1 is alive and its command line contains $2.
pid_matches() {
    local pid="$1" needle="$2"
    proc_alive "$pid" && [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle"
}

read_pidfile() {
    [[ -r $1 ]] && tr -dc '0-9' <"$1" || true
}

postfix_running() { postfix status >/dev/null 2>&1; }

dovecot_running() {
    pid_matches "$(read_pidfile "$DOVECOT_BASE/master.pid")" "dovecot"
}

capture_running() {
    pid_matches "$(read_pidfile "$CAPTURE_PID")" "capture.py"
}

doveadm_stack() { doveadm -c "$DOVECOT_CONF" "$@"; }

# --------------------------------------------------------------------------- up: steps

ensure_packages() {
    if command -v postfix >/dev/null && command -v postconf >/dev/null \
        && command -v dovecot >/dev/null && command -v doveadm >/dev/null \
        && [[ -x /usr/lib/dovecot/imap && -x /usr/lib/dovecot/lmtp ]] \
        && command -v openssl >/dev/null; then
        return 0
    fi
    log "installing postfix, dovecot-imapd, dovecot-lmtpd, openssl"
    # This script writes Postfix's configuration itself; the package should not.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-imapd dovecot-lmtpd openssl
}

# The distribution's own Dovecot instance (config /etc/dovecot, base dir /run/dovecot)
# would hold ports 143/993. The package starts it on install; stop it.
stop_system_dovecot() {
    if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet dovecot.service 2>/dev/null; then
        log "disabling the system dovecot.service (this stack runs its own instance)"
        systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
    fi
    local pid
    pid="$(read_pidfile /run/dovecot/master.pid)"
    if [[ $DOVECOT_BASE != /run/dovecot ]] && pid_matches "$pid" dovecot \
        && ! pid_matches "$pid" "$DOVECOT_CONF"; then
        log "stopping the system Dovecot (pid $pid) that would hold the IMAP ports"
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid" || true
    fi
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

start_postfix() {
    # Listener addresses change only on a full restart, not on reload.
    # $RUN_DIR/postfix-listen records the listener settings Postfix was last started with.
    local want="loopback-only ipv4" have="" pid marker="$RUN_DIR/postfix-listen"
    pid="$(read_pidfile /var/spool/postfix/pid/master.pid)"
    [[ -r $marker ]] && have="$(cat "$marker")"
    if postfix_running; then
        if [[ $have == "$want" ]]; then
            postfix reload 2>/dev/null
        else
            log "restarting Postfix (listener settings changed)"
            postfix stop 2>/dev/null
            wait_gone "$pid" || true
            wait_ports_closed 25 || true
            postfix start 2>/dev/null
        fi
    else
        postfix start 2>/dev/null
    fi
    printf '%s\n' "$want" >"$marker"
}

write_dovecot_config() {
    local passwd="" u
    for u in "${USERS[@]}"; do passwd+="$u:{PLAIN}$MAILSTACK_PASSWORD::::::"$'\n'; done
    # Dovecot re-reads a passwd-file when it changes, so a new password needs no reload.
    write_if_changed "$DOVECOT_PASSWD" "${passwd%$'\n'}"
    chown root:dovecot "$DOVECOT_PASSWD"
    chmod 0640 "$DOVECOT_PASSWD"

    local uid gid
    uid="$(id -u vmail)"
    gid="$(getent group vmail | cut -d: -f3)"

    write_if_changed "$DOVECOT_CONF" "$(cat <<EOF
# Generated by deploy/dev/mailstack.sh -- do not edit, re-run "mailstack.sh up".
# A complete, self-contained Dovecot 2.3 configuration (no /etc/dovecot includes).
# Use it with: dovecot -c $DOVECOT_CONF / doveadm -c $DOVECOT_CONF ...

instance_name = surety-mailstack
base_dir = $DOVECOT_BASE
hostname = $MYHOSTNAME
protocols = imap lmtp
listen = 127.0.0.1

log_path = $LOG_DIR/dovecot.log
auth_verbose = yes

# Tests log in over plain 143 too.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu

ssl = yes
ssl_cert = <$TLS_DIR/server.pem
ssl_key = <$TLS_DIR/server.key
ssl_min_protocol = TLSv1.2

# All mailboxes belong to the system user vmail.
mail_uid = $uid
mail_gid = $gid
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid

# Maildir in <home>/Maildir, folders as directories: "Surety/Routed".
mail_location = maildir:~/Maildir:LAYOUT=fs
namespace inbox {
  inbox = yes
  separator = /
  prefix =
}

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $DOVECOT_PASSWD
}
userdb {
  driver = passwd-file
  args = username_format=%Lu $DOVECOT_PASSWD
  default_fields = uid=$uid gid=$gid home=$MAIL_DIR/%Lu
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = 143
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = 993
    ssl = yes
  }
}

service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = 24
  }
}

protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
EOF
)"
    chmod 0644 "$DOVECOT_CONF"
    doveconf -c "$DOVECOT_CONF" -n >/dev/null || die "invalid Dovecot configuration $DOVECOT_CONF"
}

start_dovecot() {
    install -d -m 0755 "$DOVECOT_BASE"
    if dovecot_running; then
        doveadm_stack reload
    else
        # A master.pid left over from before a reboot may name an unrelated process.
        rm -f "$DOVECOT_BASE/master.pid"
        # Its own log goes to $LOG_DIR; what it prints while starting, to the log too, so
        # that it keeps no hold on our stdout ("mailstack.sh up | tee" must end).
        dovecot -c "$DOVECOT_CONF" </dev/null >>"$LOG_DIR/dovecot-start.log" 2>&1 \
            || { tail -n 20 "$LOG_DIR/dovecot-start.log" >&2; die "dovecot did not start"; }
    fi
}

start_capture() {
    if capture_running; then
        return 0
    fi
    "$PYTHON" -c 'import aiosmtpd' 2>/dev/null \
        || die "PYTHON=$PYTHON cannot import aiosmtpd (use the project venv, e.g. PYTHON=.venv/bin/python)"
    rm -f "$CAPTURE_PID"
    nohup "$PYTHON" "$CAPTURE_PY" --host 127.0.0.1 --port "$CAPTURE_PORT" \
        --dir "$CAPTURE_DIR" --pidfile "$CAPTURE_PID" \
        </dev/null >>"$LOG_DIR/capture.log" 2>&1 &
    CAPTURE_LAUNCHED=$!
    disown
}

wait_for_ports() {
    # Probe each port until it answers once (every probe is a logged connection).
    local deadline=$((SECONDS + WAIT_TIMEOUT)) missing=("${PORTS[@]}") still p
    while :; do
        still=()
        for p in "${missing[@]}"; do port_open "$p" || still+=("$p"); done
        missing=("${still[@]}")
        ((${#missing[@]} == 0)) && return 0
        ((SECONDS >= deadline)) && break
        # No point in waiting for a capture server that already exited.
        if [[ -n $CAPTURE_LAUNCHED ]] && ! proc_alive "$CAPTURE_LAUNCHED"; then
            log "--- tail $LOG_DIR/capture.log"
            tail -n 15 "$LOG_DIR/capture.log" >&2
            die "the capture server ($PYTHON $CAPTURE_PY) exited at start"
        fi
        sleep 0.1
    done
    log "timed out after ${WAIT_TIMEOUT}s; not listening on 127.0.0.1: ${missing[*]}"
    for f in postfix.log dovecot.log capture.log; do
        [[ -s $LOG_DIR/$f ]] && { log "--- tail $LOG_DIR/$f"; tail -n 15 "$LOG_DIR/$f" >&2; }
    done
    die "mail stack did not come up (ports 25=Postfix, 143/993/24=Dovecot, $CAPTURE_PORT=capture)"
}

# --------------------------------------------------------------------------- commands

cmd_up() {
    require_root
    check_password
    local start=$SECONDS
    ensure_packages
    stop_system_dovecot
    ensure_vmail_user
    make_dirs
    ensure_tls
    configure_postfix
    write_dovecot_config
    start_dovecot
    start_postfix
    start_capture
    wait_for_ports
    # shellcheck disable=SC2016 # "$MAILSTACK_PASSWORD" is printed literally on purpose
    printf 'mailstack up (%ss): smtp 127.0.0.1:25 (STARTTLS), imap 127.0.0.1:143 (STARTTLS) + 993 (TLS), lmtp 127.0.0.1:24, capture 127.0.0.1:%s -> %s; %d users @%s, password $MAILSTACK_PASSWORD; CA %s\n' \
        "$((SECONDS - start))" "$CAPTURE_PORT" "$CAPTURE_DIR" "${#USERS[@]}" "$DOMAIN" "$TLS_DIR/ca.pem"
}

cmd_down() {
    require_root
    local pid
    if postfix_running; then
        pid="$(read_pidfile /var/spool/postfix/pid/master.pid)"
        postfix stop 2>/dev/null || true
        wait_gone "$pid" || log "warning: Postfix master (pid $pid) still running"
    fi

    # SIGTERM to the master directly: "doveadm stop" polls with kill -0 and so can
    # wait seconds for a zombie master to be reaped.
    if dovecot_running; then
        pid="$(read_pidfile "$DOVECOT_BASE/master.pid")"
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid" || log "warning: Dovecot master (pid $pid) still running"
    fi

    if capture_running; then
        pid="$(read_pidfile "$CAPTURE_PID")"
        kill "$pid" 2>/dev/null || true
        if ! wait_gone "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$CAPTURE_PID"

    # Children of the masters may hold the listening sockets a moment longer.
    wait_ports_closed 25 143 993 24 "$CAPTURE_PORT" \
        || log "warning: some ports are still in use: $(ports_of 25 143 993 24 "$CAPTURE_PORT")"
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
    if dovecot_running; then
        doveadm_stack kick '*' >/dev/null 2>&1 || true
    fi
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

# Print "<name> <state> <details>".
report() {
    printf '%-8s %-8s %s\n' "$1" "$2" "$3"
}

# "25:open 143:closed ..." for the given ports.
ports_of() {
    local s="" p
    for p in "$@"; do
        if port_open "$p"; then s+="$p:open "; else s+="$p:closed "; fi
    done
    echo "${s% }"
}

cmd_status() {
    local rc=0 n
    if postfix_running; then report postfix running "$(ports_of 25)"
    else report postfix stopped "$(ports_of 25)"; rc=3; fi

    if dovecot_running; then report dovecot running "$(ports_of 143 993 24) (-c $DOVECOT_CONF)"
    else report dovecot stopped "$(ports_of 143 993 24)"; rc=3; fi

    n="$(find "$CAPTURE_DIR" -maxdepth 1 -name '*.eml' 2>/dev/null | wc -l)"
    if capture_running; then report capture running "$(ports_of "$CAPTURE_PORT") -> $CAPTURE_DIR ($n messages)"
    else report capture stopped "$(ports_of "$CAPTURE_PORT")"; rc=3; fi
    return "$rc"
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
