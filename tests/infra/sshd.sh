#!/usr/bin/env bash
# Test OpenSSH server for wfrun's SSH target:  sshd.sh start|stop|status|restart
#
# Idempotent, needs root, no systemd. Installs openssh-server if missing, then
# runs its own sshd (own config, own ed25519 host key) in the foreground in the
# background on 127.0.0.1:${WFRUN_TEST_SSH_PORT:-2222}, key auth only, for the
# non-root user `wfrun` (WFRUN_TEST_SSH_USERS: a space-separated list of users to
# create and allow instead, the first being the main one; all log in with the same
# client key). Everything lives in $STATE (default
# /var/lib/wfrun-test/ssh): the client key pair, a known_hosts built from the
# host key (no trust on first use), the log, the pid and an env file:
#
#   WFRUN_TEST_SSH_HOST / _PORT / _USER / _USERS / _KEY / _KNOWN_HOSTS
#
# Clients may send WFRUN_TEST_* variables (AcceptEnv): a test can tell which
# route a command took (e.g. an ssh hop from the login host to a "compute node").
#
# `start` returns once a real key login works (bounded, log tail on failure);
# when the server already runs it only checks the port and returns (fast).
# `stop` stops the listener *and* every connection it serves, so clients see
# their connection drop (tests use this to simulate a lost server).
#
# One server per state directory: for a second one set WFRUN_TEST_SSH_STATE
# (not under /tmp — sshd's StrictModes rejects world-writable parents of the
# authorized_keys file) and WFRUN_TEST_SSH_PORT.
set -euo pipefail

STATE=${WFRUN_TEST_SSH_STATE:-/var/lib/wfrun-test/ssh}
PORT=${WFRUN_TEST_SSH_PORT:-2222}
HOST=127.0.0.1
USERS=${WFRUN_TEST_SSH_USERS:-wfrun}
USER_NAME=${USERS%% *}
SSHD=/usr/sbin/sshd
CONFIG=$STATE/sshd_config
PIDFILE=$STATE/sshd.pid
LOG=$STATE/sshd.log
START_TIMEOUT=${WFRUN_TEST_SSH_START_TIMEOUT:-20}

die() { echo "sshd.sh: $*" >&2; exit 1; }
log() { echo "sshd.sh: $*" >&2; }

# A process is alive when /proc/PID/stat exists and its state is not Z
# (orphans are reaped slowly here, so kill -0 succeeds on zombies).
alive() {
    local pid=$1 stat
    [[ -n $pid && -r /proc/$pid/stat ]] || return 1
    { stat=$(</proc/"$pid"/stat); } 2>/dev/null || return 1
    stat=${stat##*) }          # fields after "(comm) "
    [[ ${stat%% *} != Z ]]
}

running_pid() {
    local pid
    [[ -r $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    alive "$pid" || return 1
    # The pid must still be our sshd, not a recycled pid.
    [[ $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null) == *"$CONFIG"* ]] || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

ssh_login() {
    ssh -F /dev/null -p "$PORT" -i "$STATE/id_ed25519" \
        -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
        -o UserKnownHostsFile="$STATE/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o ConnectTimeout=5 -o LogLevel=ERROR \
        "$USER_NAME@$HOST" "$@"
}

install_packages() {
    [[ -x $SSHD && -x /usr/bin/ssh && -x /usr/bin/ssh-keygen ]] && return 0
    log "installing openssh-server openssh-client"
    local own_policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        # Keep the package scripts from starting a system sshd.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
    if [[ -n $own_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
    [[ -x $SSHD ]] || die "openssh-server installation did not provide $SSHD"
}

ensure_users() {
    local name
    for name in $USERS; do ensure_user "$name"; done
}

ensure_user() {
    local USER_NAME=$1
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        # Another set-up script (Slurm) may create it at the same moment.
        useradd -m -s /bin/bash "$USER_NAME" 2>/dev/null || id "$USER_NAME" >/dev/null \
            || die "cannot create user $USER_NAME"
    fi
    # useradd leaves a locked password ('!'); with UsePAM no sshd then refuses
    # even key logins. '*' = no password, but not locked.
    local field
    field=$(getent shadow "$USER_NAME" | cut -d: -f2)
    if [[ $field == '!'* ]]; then
        usermod -p '*' "$USER_NAME"
    fi
    local home
    home=$(getent passwd "$USER_NAME" | cut -d: -f6)
    [[ -d $home ]] || { mkdir -p "$home"; chown "$USER_NAME:" "$home"; }
}

ensure_files() {
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    if [[ ! -s $STATE/ssh_host_ed25519_key ]]; then
        rm -f "$STATE/ssh_host_ed25519_key" "$STATE/ssh_host_ed25519_key.pub"
        ssh-keygen -q -t ed25519 -N '' -C wfrun-test-host -f "$STATE/ssh_host_ed25519_key"
    fi
    if [[ ! -s $STATE/id_ed25519 ]]; then
        rm -f "$STATE/id_ed25519" "$STATE/id_ed25519.pub"
        ssh-keygen -q -t ed25519 -N '' -C wfrun-test-client -f "$STATE/id_ed25519"
    fi
    chmod 600 "$STATE/ssh_host_ed25519_key" "$STATE/id_ed25519"
    # Root-owned, not writable by others: passes sshd's StrictModes checks.
    install -m 644 "$STATE/id_ed25519.pub" "$STATE/authorized_keys"
    local hostkey
    hostkey=$(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519_key.pub")
    {
        echo "[$HOST]:$PORT $hostkey"
        echo "[localhost]:$PORT $hostkey"
    } >"$STATE/known_hosts"
    chmod 644 "$STATE/known_hosts"
    cat >"$CONFIG" <<EOF
# wfrun test sshd (written by tests/infra/sshd.sh; rewritten on every start)
ListenAddress $HOST
Port $PORT
HostKey $STATE/ssh_host_ed25519_key
PidFile $PIDFILE
AuthorizedKeysFile $STATE/authorized_keys
AllowUsers $USERS
AcceptEnv WFRUN_TEST_*
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxSessions 10
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
UseDNS no
LogLevel INFO
Subsystem sftp internal-sftp
EOF
    cat >"$STATE/env" <<EOF
WFRUN_TEST_SSH_HOST=$HOST
WFRUN_TEST_SSH_PORT=$PORT
WFRUN_TEST_SSH_USER=$USER_NAME
WFRUN_TEST_SSH_USERS="$USERS"
WFRUN_TEST_SSH_KEY=$STATE/id_ed25519
WFRUN_TEST_SSH_KNOWN_HOSTS=$STATE/known_hosts
EOF
}

start() {
    local pid
    if pid=$(running_pid) && port_open; then
        [[ -s $STATE/env ]] || die "sshd runs (pid $pid) but $STATE/env is missing; run: $0 restart"
        ensure_users   # cheap; another set-up script may have (re)created or locked the user
        log "already running (pid $pid, port $PORT)"
        cat "$STATE/env"
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "must run as root"
    install_packages
    ensure_users
    if [[ -n ${pid:-} ]]; then stop; fi
    ensure_files
    mkdir -p /run/sshd && chmod 755 /run/sshd
    "$SSHD" -t -f "$CONFIG" 2>"$LOG.check" || die "invalid sshd config: $(cat "$LOG.check")"
    if port_open; then
        die "port $PORT on $HOST is already in use by another process (set WFRUN_TEST_SSH_PORT)"
    fi
    : >"$LOG"
    # Own session, no inherited pipes: the caller (pytest) must not wait for sshd.
    setsid "$SSHD" -D -e -f "$CONFIG" </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    local deadline=$((SECONDS + START_TIMEOUT))
    until port_open && ssh_login true 2>>"$LOG"; do
        if ! alive "$pid"; then
            die "sshd exited during start-up; log tail:
$(tail -n 20 "$LOG")"
        fi
        if ((SECONDS >= deadline)); then
            die "no working login to $USER_NAME@$HOST:$PORT within ${START_TIMEOUT}s; log tail:
$(tail -n 20 "$LOG")"
        fi
        sleep 0.1
    done
    echo "$pid" >"$PIDFILE"   # sshd -D rewrites it with the same pid; keep ours authoritative
    log "started (pid $pid, port $PORT)"
    cat "$STATE/env"
}

# Descendants of PID whose command is sshd (the per-connection processes).
sshd_descendants() {
    local parent=$1 p stat comm ppid
    for p in /proc/[0-9]*; do
        { stat=$(<"$p/stat"); } 2>/dev/null || continue
        comm=${stat#*(}; comm=${comm%%)*}
        stat=${stat##*) }
        read -r _ ppid _ <<<"$stat"
        if [[ $ppid == "$parent" && $comm == sshd ]]; then
            echo "${p#/proc/}"
            sshd_descendants "${p#/proc/}"
        fi
    done
}

wait_gone() {
    local pid=$1 i
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

stop() {
    local pid kids k
    if ! pid=$(running_pid); then
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    kids=$(sshd_descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
    if ! wait_gone "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" || die "sshd (pid $pid) does not stop"
    fi
    for k in $kids; do
        wait_gone "$k" || kill -KILL "$k" 2>/dev/null || true
    done
    rm -f "$PIDFILE"
    log "stopped (pid $pid and ${kids:+$(wc -w <<<"$kids")}${kids:-0} connection processes)"
}

status() {
    local pid
    if pid=$(running_pid); then
        if port_open; then
            echo "running (pid $pid, $HOST:$PORT)"
            return 0
        fi
        echo "running (pid $pid) but $HOST:$PORT does not accept connections"
        return 1
    fi
    echo "not running"
    return 3
}

case ${1:-} in
start) start ;;
stop) stop ;;
restart) stop; start ;;
status) status ;;
*) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
