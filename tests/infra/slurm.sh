#!/usr/bin/env bash
# Single-node Slurm 22.05 test cluster for wfrun's integration tests.
#
#   tests/infra/slurm.sh start    install (if needed), configure, start, wait until usable
#   tests/infra/slurm.sh stop     stop the daemons this script started
#   tests/infra/slurm.sh status   show daemons and node state; exit 0 only if healthy
#
# Runs as root on Debian 12 without systemd (see /work/shared/INFRA.md). It runs
# munged, MariaDB (own datadir, 127.0.0.1 only), slurmdbd, slurmctld and slurmd,
# each in the foreground in the background, with PID files under $STATE_DIR/pid.
# The Slurm configuration goes to /etc/slurm (Debian's default), so clients
# started over SSH find it without SLURM_CONF. PBS wrappers (qsub/qstat/qdel)
# come from slurm-wlm-torque; spank_pbs gives jobs PBS_* variables.
# It also creates the plain local test user `wfrun` (no SSH set-up).
#
# `start` is idempotent: a healthy cluster is detected in well under a second.
# On success it prints one line per phase; on failure it exits non-zero and
# prints the relevant log tail.
#
# Environment overrides:
#   WFRUN_TEST_ROOT       state root            [/var/lib/wfrun-test]
#   WFRUN_SLURM_TIMEOUT   seconds per wait step [90]
#   WFRUN_SLURM_CLUSTER   cluster name          [wfrun]
#   WFRUN_TEST_USER       local test user       [wfrun]

set -Eeuo pipefail
umask 022
trap 'echo "slurm.sh: ERROR: unexpected failure (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

readonly PACKAGES=(munge slurmctld slurmd slurm-client slurm-wlm-torque slurmdbd mariadb-server)
readonly ROOT_DIR=${WFRUN_TEST_ROOT:-/var/lib/wfrun-test}
readonly STATE_DIR=$ROOT_DIR/slurm
readonly DB_DIR=$ROOT_DIR/mysql
readonly PID_DIR=$STATE_DIR/pid
readonly LOG_DIR=$STATE_DIR/log
readonly TIMEOUT=${WFRUN_SLURM_TIMEOUT:-90}
readonly CLUSTER=${WFRUN_SLURM_CLUSTER:-wfrun}
readonly TEST_USER=${WFRUN_TEST_USER:-wfrun}
readonly SLURM_ETC=/etc/slurm
readonly SLURM_CONF=$SLURM_ETC/slurm.conf
readonly SLURMDBD_CONF=$SLURM_ETC/slurmdbd.conf
readonly PLUGSTACK_CONF=$SLURM_ETC/plugstack-wfrun.conf
readonly MUNGE_SOCKET=/run/munge/munge.socket.2
readonly DB_SOCKET=$DB_DIR/mariadb.sock
readonly MARKER="# Written by wfrun tests/infra/slurm.sh; regenerated on every start."
# Start order; stop goes in reverse.
readonly DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)
export SLURM_CONF

NODE=$(hostname -s)
readonly NODE

# ---------------------------------------------------------------- helpers

now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
T_START=$(now_us)
readonly T_START
T_PHASE=$T_START

seconds_since() { # $1 = start in µs → "1.23"
    local d=$(($(now_us) - $1))
    printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
}

phase() { # one line per phase, with the time the phase took
    printf 'slurm.sh: %-10s %s (%ss)\n' "$1" "$2" "$(seconds_since "$T_PHASE")"
    T_PHASE=$(now_us)
}

die() { # message, then log tails of the named daemons
    local msg=$1
    shift
    printf 'slurm.sh: ERROR: %s\n' "$msg" >&2
    local d
    for d in "$@"; do
        show_log_tail "$d"
    done
    exit 1
}

log_files_of() {
    case $1 in
        munged) echo "$LOG_DIR/munged.out /var/log/munge/munged.log" ;;
        mariadbd) echo "$DB_DIR/log/mariadbd.err $LOG_DIR/mariadbd.out" ;;
        *) echo "$LOG_DIR/$1.log $LOG_DIR/$1.out" ;;
    esac
}

show_log_tail() {
    local f
    for f in $(log_files_of "$1"); do
        if [[ -s $f ]]; then
            printf -- '----- last lines of %s -----\n' "$f" >&2
            tail -n 25 "$f" >&2
        fi
    done
}

# A PID is a live daemon of ours if /proc/PID exists, is not a zombie (orphans
# are reaped slowly here, so `kill -0` is not enough) and has the expected name.
pid_alive() { # $1 = pid, $2 = expected comm
    local pid=$1 stat rest comm
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    [[ ${rest%% *} != Z ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$2" ]]
}

daemon_pid() { # prints the PID of our running daemon $1, or fails
    local pid
    pid=$(cat "$PID_DIR/$1.pid" 2>/dev/null) || return 1
    pid_alive "$pid" "$1" || return 1
    echo "$pid"
}

running() { daemon_pid "$1" >/dev/null; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Run "$@" in the foreground in the background, detached from our session and
# our stdout (a caller capturing our output must not wait for the daemons).
spawn() { # $1 = daemon name, rest = command
    local name=$1
    shift
    (cd / && exec setsid "$@" </dev/null >>"$LOG_DIR/$name.out" 2>&1 9>&-) &
    local pid=$! i
    echo "$pid" >"$PID_DIR/$name.pid"
    # Wait for the exec chain (subshell → setsid → …) to reach the daemon.
    for ((i = 0; i < 100; i++)); do
        if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then return 0; fi
        if [[ ! -e /proc/$pid ]]; then break; fi
        sleep 0.02
    done
    running "$name" || die "$name did not start: $*" "$name"
}

# wait_for NAME DESCRIPTION COMMAND... — poll COMMAND until it succeeds, the
# daemon dies or the timeout passes.
wait_for() {
    local name=$1 what=$2
    shift 2
    local deadline=$(($(now_us) + TIMEOUT * 1000000)) delay=0.05
    until "$@" >/dev/null 2>&1; do
        running "$name" || die "$name exited while waiting for $what" "$name"
        (($(now_us) < deadline)) || die "timed out after ${TIMEOUT}s waiting for $what" "$name"
        sleep "$delay"
        delay=0.1
    done
    return 0
}

stop_daemon() { # TERM, wait until gone (or zombie), KILL after 30 s
    local name=$1 pid i
    pid=$(daemon_pid "$name") || { rm -f "$PID_DIR/$name.pid"; return 1; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        pid_alive "$pid" "$name" || break
        sleep 0.1
    done
    if pid_alive "$pid" "$name"; then
        echo "slurm.sh: $name (pid $pid) ignored SIGTERM for 30s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            pid_alive "$pid" "$name" || break
            sleep 0.1
        done
    fi
    rm -f "$PID_DIR/$name.pid"
}

need_root() {
    [[ $EUID -eq 0 ]] || die "must run as root (it installs packages and starts system daemons)"
}

# ---------------------------------------------------------------- install

packages_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null) || return 1
    ! grep -qv '^ii' <<<"$status"
}

install_packages() {
    if packages_installed; then
        return 0
    fi
    local log=$LOG_DIR/apt.log created_policy=0
    mkdir -p "$LOG_DIR"
    : >"$log"
    # Package installation must not start daemons (there is no init system to
    # manage them, and we start them ourselves below).
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    local rc=0 try
    export DEBIAN_FRONTEND=noninteractive
    # Other set-up scripts may run apt at the same time: wait for the locks.
    for try in 1 2 3; do
        rc=0
        apt-get -o DPkg::Lock::Timeout=300 update >>"$log" 2>&1 &&
            apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends \
                "${PACKAGES[@]}" >>"$log" 2>&1 || rc=$?
        if ((rc == 0)); then break; fi
        sleep $((try * 5))
    done
    if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi
    if ((rc != 0)); then
        printf 'slurm.sh: ERROR: apt-get failed (exit %d); last lines of %s:\n' "$rc" "$log" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    phase install "installed ${PACKAGES[*]}"
}

# ---------------------------------------------------------------- test user

ensure_user() {
    if ! id -u "$TEST_USER" >/dev/null 2>&1; then
        # Another set-up script may create the same user concurrently.
        useradd --create-home --home-dir "/home/$TEST_USER" --shell /bin/bash "$TEST_USER" 2>/dev/null ||
            id -u "$TEST_USER" >/dev/null 2>&1 || die "could not create user $TEST_USER"
    fi
    local home
    home=$(getent passwd "$TEST_USER" | cut -d: -f6)
    if [[ ! -d $home ]]; then
        mkdir -p "$home"
        chown "$TEST_USER:" "$home"
    fi
    # useradd leaves the password locked ("!"); sshd with UsePAM=no then refuses
    # even key logins. "*" = no password login possible, but not locked.
    local pw
    pw=$(getent shadow "$TEST_USER" | cut -d: -f2)
    if [[ $pw == '!'* ]]; then
        usermod -p '*' "$TEST_USER"
    fi
}

# ---------------------------------------------------------------- configuration

CHANGED=()

write_if_changed() { # $1 = path, $2 = mode, $3 = owner, stdin = content
    local path=$1 mode=$2 owner=$3 tmp
    tmp=$(mktemp "$path.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    if [[ -f $path ]] && cmp -s "$tmp" "$path" &&
        [[ $(stat -c '%a %U:%G' "$path") == "$(stat -c '%a %U:%G' "$tmp")" ]]; then
        rm -f "$tmp"
        return 0
    fi
    if [[ -f $path ]] && ! grep -qxF "$MARKER" "$path" && [[ ! -e $path.wfrun-backup ]]; then
        cp -p "$path" "$path.wfrun-backup"
    fi
    mv -f "$tmp" "$path"
    CHANGED+=("$path")
}

db_port() { # the MariaDB port: chosen once (first free from 33306), then kept
    local f=$DB_DIR/port p
    if [[ -s $f ]]; then
        cat "$f"
        return
    fi
    for ((p = 33306; p < 33406; p++)); do
        port_in_use "$p" || break
    done
    echo "$p" >"$f"
    echo "$p"
}

db_password() {
    local f=$DB_DIR/slurm.password
    if [[ ! -s $f ]]; then
        (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$f")
    fi
    cat "$f"
}

node_line() {
    local line
    line=$(slurmd -C | head -n 1) || die "slurmd -C failed"
    [[ $line == NodeName=* ]] || die "unexpected output of slurmd -C: $line"
    # Our node name, not whatever slurmd -C guessed; reachable on loopback.
    echo "NodeName=$NODE NodeAddr=127.0.0.1 ${line#NodeName=* } State=UNKNOWN"
}

configure() {
    mkdir -p "$PID_DIR" "$LOG_DIR" "$STATE_DIR/ctld" "$STATE_DIR/slurmd" "$STATE_DIR/run" \
        "$DB_DIR/log" /run/munge /var/lib/munge /var/log/munge "$SLURM_ETC"
    chown mysql:mysql "$DB_DIR"
    chmod 750 "$DB_DIR"
    chown slurm:slurm "$STATE_DIR/ctld" "$STATE_DIR/run" "$LOG_DIR"
    chown mysql:mysql "$DB_DIR/log"
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    chmod 755 /run/munge
    chmod 700 /var/lib/munge /var/log/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi

    local spank node port pass
    node=$(node_line) || exit 1
    port=$(db_port) || exit 1
    pass=$(db_password) || exit 1
    local candidates=(/usr/lib/*/slurm-wlm/spank_pbs.so)
    spank=${candidates[0]}
    [[ -f $spank ]] || die "spank_pbs.so not found under /usr/lib/*/slurm-wlm/ (slurm-wlm-torque?)"

    write_if_changed "$PLUGSTACK_CONF" 644 root:root <<EOF
$MARKER
required $spank
EOF

    write_if_changed "$SLURMDBD_CONF" 600 slurm:slurm <<EOF
$MARKER
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
DebugLevel=info
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$STATE_DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$port
StorageUser=slurm
StoragePass=$pass
StorageLoc=slurm_acct_db
EOF

    write_if_changed "$SLURM_CONF" 644 root:root <<EOF
$MARKER
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$STATE_DIR/run/slurmctld.pid
SlurmdPidFile=$STATE_DIR/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups on these machines.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
MpiDefault=none
PlugStackConfig=$PLUGSTACK_CONF
# Accounting through slurmdbd, so that sacct works.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
# Schedule cores and memory, start jobs right after submission.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
ReturnToService=2
KillWait=5
MinJobAge=300
$node
PartitionName=debug Nodes=$NODE Default=YES MaxTime=1:00:00 State=UP
PartitionName=long Nodes=$NODE Default=NO MaxTime=INFINITE State=UP
EOF
}

# ---------------------------------------------------------------- daemons

start_munged() {
    if running munged; then return 0; fi
    if munge -n -S "$MUNGE_SOCKET" >/dev/null 2>&1; then
        phase munged "already served by a munged not started here; using it"
        return 0
    fi
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    spawn munged setpriv --reuid=munge --regid=munge --init-groups munged -F
    wait_for munged "munged to answer" munge -n -S "$MUNGE_SOCKET"
    phase munged "started (pid $(daemon_pid munged))"
}

db_sql() { mariadb --no-defaults --socket="$DB_SOCKET" -u root -e "$1"; }

start_mariadb() {
    if running mariadbd; then return 0; fi
    local port initialised=""
    port=$(db_port)
    if [[ ! -d $DB_DIR/data/mysql ]]; then
        rm -rf "$DB_DIR/data"
        mariadb-install-db --no-defaults --user=mysql --datadir="$DB_DIR/data" \
            --skip-test-db >"$LOG_DIR/mariadb-install-db.out" 2>&1 ||
            { tail -n 25 "$LOG_DIR/mariadb-install-db.out" >&2; die "mariadb-install-db failed"; }
        initialised="initialised, "
    fi
    if port_in_use "$port"; then
        die "port $port for MariaDB is taken by another process (delete $DB_DIR/port to choose another)"
    fi
    # Test database: durability does not matter, speed does.
    spawn mariadbd mariadbd --no-defaults --user=mysql --datadir="$DB_DIR/data" \
        --socket="$DB_SOCKET" --port="$port" --bind-address=127.0.0.1 \
        --pid-file="$DB_DIR/mariadbd.pid" --log-error="$DB_DIR/log/mariadbd.err" \
        --skip-name-resolve --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=64M
    wait_for mariadbd "MariaDB to accept connections" db_sql "SELECT 1"
    local pass
    pass=$(db_password)
    db_sql "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
            ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
        die "could not create the MariaDB user slurm" mariadbd
    phase mariadb "${initialised}started on 127.0.0.1:$port (pid $(daemon_pid mariadbd))"
}

dbd_answers() { sacctmgr -n -P list cluster format=Cluster; }

start_slurmdbd() {
    if ! running slurmdbd; then
        if port_in_use 6819; then
            die "port 6819 (slurmdbd) is taken by a process not started by this script"
        fi
        spawn slurmdbd slurmdbd -D
        wait_for slurmdbd "slurmdbd to answer sacctmgr" dbd_answers
        phase slurmdbd "started (pid $(daemon_pid slurmdbd))"
    fi
    if ! dbd_answers 2>/dev/null | grep -qxF "$CLUSTER"; then
        sacctmgr -i add cluster "$CLUSTER" >"$LOG_DIR/sacctmgr.out" 2>&1 ||
            { cat "$LOG_DIR/sacctmgr.out" >&2; die "sacctmgr add cluster $CLUSTER failed" slurmdbd; }
        phase cluster "registered '$CLUSTER' with slurmdbd"
    fi
}

start_slurmctld() {
    if running slurmctld; then return 0; fi
    if port_in_use 6817; then
        die "port 6817 (slurmctld) is taken by a process not started by this script"
    fi
    spawn slurmctld slurmctld -D
    wait_for slurmctld "slurmctld to answer" scontrol ping
    phase slurmctld "started (pid $(daemon_pid slurmctld))"
}

start_slurmd() {
    if running slurmd; then return 0; fi
    if port_in_use 6818; then
        die "port 6818 (slurmd) is taken by a process not started by this script"
    fi
    SLURMD_SPAWNED=$(date +%s)
    spawn slurmd slurmd -D -N "$NODE"
    phase slurmd "started (pid $(daemon_pid slurmd))"
}

# ---------------------------------------------------------------- health

SLURMD_SPAWNED=0

slurmd_registered() { # has the slurmd we started registered with slurmctld?
    ((SLURMD_SPAWNED > 0)) || return 0
    local line t
    line=$(scontrol -o show node "$NODE" 2>/dev/null) || return 1
    [[ $line =~ SlurmdStartTime=([0-9T:-]+) ]] || return 1
    t=$(date -d "${BASH_REMATCH[1]}" +%s) || return 1
    ((t >= SLURMD_SPAWNED - 1))
}

node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }

node_usable() { # idle, or busy with jobs; not down/drained/not responding
    local s
    s=$(node_state)
    [[ $s =~ ^(idle|mixed|allocated|completing)$ ]]
}

sacct_answers() { sacct -n -X -o JobID -S now; }

all_running() {
    local d
    for d in "${DAEMONS[@]}"; do
        if [[ $d == munged ]] && ! running munged; then
            munge -n -S "$MUNGE_SOCKET" >/dev/null 2>&1 || return 1
            continue
        fi
        running "$d" || return 1
    done
}

healthy() { all_running && node_usable && sacct_answers >/dev/null 2>&1; }

wait_ready() {
    local deadline=$(($(now_us) + TIMEOUT * 1000000))
    until node_usable && slurmd_registered; do
        running slurmd || die "slurmd exited before node $NODE became idle" slurmd slurmctld
        if (($(now_us) >= deadline)); then
            scontrol show node "$NODE" >&2 || true
            die "timed out after ${TIMEOUT}s waiting for node $NODE to become idle (state: $(node_state))" slurmd slurmctld
        fi
        sleep 0.1
    done
    wait_for slurmdbd "sacct to answer" sacct_answers
    local state
    state=$(node_state)
    phase ready "node $NODE $state, sacct answers; total $(seconds_since "$T_START")s"
}

# ---------------------------------------------------------------- commands

cmd_start() {
    need_root
    mkdir -p "$ROOT_DIR"
    # Serialise concurrent starts/stops (CI and a pytest fixture, xdist workers).
    exec 9>"$ROOT_DIR/slurm.lock"
    flock -w 900 9 || die "could not get $ROOT_DIR/slurm.lock"

    install_packages
    ensure_user
    configure
    if ((${#CHANGED[@]} == 0)) && healthy; then
        phase start "already running and healthy"
        return 0
    fi
    if ((${#CHANGED[@]} > 0)); then
        # New configuration: restart what reads it.
        local d restarted=() affected=(slurmd slurmctld)
        if [[ " ${CHANGED[*]} " == *" $SLURMDBD_CONF "* ]]; then affected+=(slurmdbd); fi
        for d in "${affected[@]}"; do
            if running "$d" && stop_daemon "$d"; then restarted+=("$d"); fi
        done
        phase configure "wrote ${CHANGED[*]##*/}${restarted:+; stopped ${restarted[*]} to apply it}"
    fi
    start_munged
    start_mariadb
    start_slurmdbd
    start_slurmctld
    start_slurmd
    wait_ready
}

cmd_stop() {
    need_root
    mkdir -p "$ROOT_DIR"
    exec 9>"$ROOT_DIR/slurm.lock"
    flock -w 900 9 || die "could not get $ROOT_DIR/slurm.lock"
    local i d stopped=()
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        d=${DAEMONS[i]}
        if stop_daemon "$d"; then stopped+=("$d"); fi
    done
    if ((${#stopped[@]})); then
        phase stop "stopped ${stopped[*]}"
    else
        phase stop "nothing was running"
    fi
}

cmd_status() {
    local d pid ok=0
    for d in "${DAEMONS[@]}"; do
        if pid=$(daemon_pid "$d"); then
            printf '%-10s running (pid %s)\n' "$d" "$pid"
        elif [[ $d == munged ]] && munge -n -S "$MUNGE_SOCKET" >/dev/null 2>&1; then
            printf '%-10s running (not started by this script)\n' "$d"
        else
            printf '%-10s stopped\n' "$d"
            ok=1
        fi
    done
    if command -v sinfo >/dev/null && running slurmctld; then
        printf '%-10s %s\n' node "$NODE $(node_state || echo unknown)"
        node_usable || ok=1
    fi
    if command -v sacct >/dev/null && running slurmdbd; then
        if sacct_answers >/dev/null 2>&1; then
            printf '%-10s %s\n' sacct answers
        else
            printf '%-10s %s\n' sacct "does not answer"
            ok=1
        fi
    fi
    return $ok
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status)
        trap - ERR # a non-zero exit is a normal answer here
        cmd_status
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
