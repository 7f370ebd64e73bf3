#!/bin/bash
# A throwaway Postfix instance for smilla's end-to-end tests.
#
#   postfix.sh start DIR POLICY      build and start an instance in DIR
#   postfix.sh stop DIR              stop it; leaves no process behind
#   postfix.sh send DIR [SWAKS...]   swaks against it (defaults below)
#   postfix.sh wait-mail DIR N [S]   wait (S seconds, default 20) until the
#                                    mailbox holds N messages; print the
#                                    newest one's path
#
# POLICY is what goes inside check_policy_service:
#   unix:/abs/path/policy.sock      a policy server you run yourself (the
#                                   socket must be connectable by the postfix
#                                   user, path < 108 bytes)
#   inet:127.0.0.1:PORT             idem, over TCP
#   spawn:CMD ARGS...               a master.cf spawn(8) service "smillapol"
#                                   runs CMD as nobody, one process per smtpd
#                                   connection, stdin/stdout/stderr = socket;
#                                   the restriction uses unix:private/smillapol
#   none                            no policy service at all (e.g. to test a
#                                   milter given in PF_MAIN_EXTRA)
# (POLICY may also be given as several words: start DIR spawn:/usr/bin/perl X)
#
# The instance: postfix -c DIR/conf, queue DIR/queue, data DIR/data, log
# DIR/maillog (postlogd), smtpd on 127.0.0.1:<free port> with STARTTLS
# (security level may, asks for client certificates, sha256 fingerprints),
# mail for *@mx.smilla.test delivered by virtual(8) into the Maildir
# DIR/mail/mx.smilla.test/user/ (a catch-all: every local part lands there),
# nothing ever leaves (default_transport = error), no DNS.
# With BED_DIR set (tests/bed/bed.sh), the server certificate is issued by
# the bed's CA and smtpd_tls_CAfile is the bed's ca.pem, so CA-issued client
# certificates are trusted (ccert_subject/ccert_issuer get filled in).
#
# Environment knobs for start:
#   BED_DIR                  see above
#   PF_POLICY_REQUEST_LIMIT  smtpd_policy_service_request_limit (default 0 =
#                            unlimited requests per policy connection; 1 for
#                            a server that cannot keep a connection open)
#   PF_POLICY_DEFAULT_ACTION the policy service's default_action, what
#                            Postfix does when it cannot get an answer
#                            (default DUNNO)
#   PF_EXTRA_DOMAINS         more virtual mailbox domains (space or comma
#                            separated), catch-alls like mx.smilla.test,
#                            delivered into the same Maildir (PF_MAILDIR)
#   PF_MAIN_EXTRA            main.cf settings ("name = value" lines, indented
#                            continuation lines allowed), applied last with
#                            postconf -e, so they replace ours
#   PF_MASTER_EXTRA          master.cf lines appended as given (e.g. more
#                            smtpd listeners with -o overrides); start
#                            waits only for its own smtpd's port
# and for send:
#   PF_SEND_CHAIN=1          make swaks send the whole --tls-cert file (leaf
#                            + chain) instead of only its first certificate
#
# start writes DIR/postfix.env (PF_DIR PF_PORT PF_MAILDIR PF_LOG PF_CONF
# PF_QUEUE PF_POLICY_SPEC).  Must run as root (Postfix refuses otherwise);
# every directory above DIR must be traversable by the postfix user.
# Only DIR's conf, queue, data, mail, tls, maillog and postfix.env are
# (re)created by start: other files in DIR (a policy socket, logs) survive.
set -eu
umask 022

# alive, wait_gone, wait_reaped, pick_port; server_cert
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/proc.sh"
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/tls.sh"

PROG=postfix.sh
PF_USER=postfix
SMTPD_HOST=127.0.0.1
DOMAIN=mx.smilla.test
MAILBOX_USER=user

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $0 start DIR POLICY        (POLICY: unix:/path | inet:host:port | spawn:CMD... | none)
       $0 stop DIR
       $0 send DIR [swaks args...]
       $0 wait-mail DIR N [SECONDS]
EOF
	exit 2
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------- processes




# Live processes of the instance in $1 (absolute DIR), one pid a line:
# whose environment has MAIL_CONFIG=DIR/conf (every Postfix daemon, and
# spawn(8) children: MAIL_CONFIG is in export_environment), whose working
# directory is DIR/queue (Postfix daemons chdir there), or that belong to
# the session of the master (pid $2, may be empty).  Never us or our
# ancestors.  One perl run: forking per /proc entry is slow here.
instance_pids() {
	perl -e '
		my ($dir, $master, $skip) = @ARGV;
		my %skip = map { $_ => 1 } split " ", $skip;
		opendir(my $d, "/proc") or exit 0;
		for my $p (grep { /^\d+$/ } readdir $d) {
			next if $skip{$p} || $p == $$ || $p == getppid();
			open(my $st, "<", "/proc/$p/stat") or next;
			my $stat = <$st> // next;
			$stat =~ s/^.*\) //;
			my ($state, $ppid, $pgrp, $sid) = split / /, $stat;
			next if $state eq "Z" || $state eq "X";
			my $hit = $master ne "" && $sid == $master;
			if (!$hit && open(my $e, "<", "/proc/$p/environ")) {
				local $/;
				my $env = <$e> // "";
				$hit = grep { $_ eq "MAIL_CONFIG=$dir/conf" } split /\0/, $env;
			}
			if (!$hit) {
				my $cwd = readlink("/proc/$p/cwd") // "";
				$hit = $cwd eq "$dir/queue" || index($cwd, "$dir/queue/") == 0;
			}
			print "$p\n" if $hit;
		}
	' "$1" "${2:-}" "$$ $(ancestors | tr '\n' ' ')"
}

ancestors() {
	local p=$$ pp
	while [ "$p" -gt 1 ]; do
		pp=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f2) || break
		[ -n "$pp" ] || break
		echo "$pp"
		p=$pp
	done
}

# Other live processes whose command line names DIR/ (e.g. a policy server
# the caller started on DIR/policy.sock): reported, not killed.  Leaves out
# this script, its ancestors and its descendants (command substitutions).
pids_mentioning() {
	ps -ww -eo pid=,ppid=,stat=,args= | awk -v self="$$" -v want="$1/" '
		{ pid = $1; ppid[pid] = $2; st[pid] = $3; line[pid] = $0; order[++n] = pid }
		END {
			for (p = self; p > 1 && (p in ppid); p = ppid[p]) mine[p] = 1
			for (i = 1; i <= n; i++) {
				p = order[i]
				if (p in mine || st[p] ~ /^Z/) continue
				for (q = ppid[p]; q > 1 && (q in ppid); q = ppid[q]) if (q == self) break
				if (q == self) continue
				if (index(line[p] " ", want)) print line[p]
			}
		}'
}

# The live master of the instance in $1, if any.  The pid file may be stale
# and its pid reused: only a process whose environment has our MAIL_CONFIG
# (postfix(1) exports it to the master) counts.
master_pid() {
	local f="$1/queue/pid/master.pid" p
	[ -s "$f" ] || return 0
	p=$(head -n1 "$f" | tr -cd 0-9)
	[ -n "$p" ] && alive "$p" || return 0
	{ tr "\0" "\n" <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "MAIL_CONFIG=$1/conf" || return 0
	echo "$p"
}

stop_instance() {
	local d=$1 quiet=${2:-} m m_file pids others before p
	m=$(master_pid "$d")
	m_file=$m
	# Everything of ours now, to wait below until PID 1 has reaped them.
	before=$(instance_pids "$d" "$m" | tr "\n" " ")
	if [ -z "$m" ]; then # pid file lost or stale: find the master among them
		for p in $before; do
			if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = master ]; then m=$p; break; fi
		done
	fi
	if [ -n "$m" ]; then
		# "postfix abort" sends SIGTERM to the master, which terminates
		# its children and exits; "postfix stop" does the same, then
		# polls with 1 s sleeps.  We poll faster ourselves.
		# "postfix abort" signals the pid in the pid file: only when that
		# is the verified master.
		if [ -n "$m_file" ]; then
			postfix -c "$d/conf" abort >>"$d/postfix-cmd.log" 2>&1 || kill -TERM "$m" 2>/dev/null || true
		else
			kill -TERM "$m" 2>/dev/null || true
		fi
		if ! wait_gone "$m" 100; then
			echo "$PROG: master $m did not stop, killing" >&2
			kill -KILL "$m" 2>/dev/null || true
			wait_gone "$m" 50 || true
		fi
	fi
	# Children notice the master's death within a second or so (master
	# status pipe); spawn(8) children exit when their smtpd hangs up.
	pids=$(instance_pids "$d" "$m" | tr '\n' ' ')
	if [ -n "${pids// /}" ] && ! wait_gone "$pids" 30; then
		pids=$(instance_pids "$d" "$m" | tr '\n' ' ')
		if [ -n "${pids// /}" ]; then
			# shellcheck disable=SC2086
			kill -TERM $pids 2>/dev/null || true
			if ! wait_gone "$pids" 50; then
				# shellcheck disable=SC2086
				kill -KILL $pids 2>/dev/null || true
				wait_gone "$pids" 50 || echo "$PROG: still running: $pids" >&2
			fi
		fi
	fi
	# PID 1 reaps orphans here only every second or so: wait, so that a
	# "ps" right after us shows no <defunct> leftovers.
	wait_reaped "$m $before $pids" 30
	others=$(pids_mentioning "$d")
	if [ -n "$others" ] && [ -z "$quiet" ]; then
		echo "$PROG: note: not ours, left running (they name $d/):" >&2
		echo "$others" | sed 's/^/  /' >&2
	fi
	return 0
}

# ---------------------------------------------------------------- helpers


# True if pid $2 listens on TCP $1 (127.0.0.1:PORT).
listening() {
	ss -Hltnp "sport = :${1##*:}" 2>/dev/null | grep -F "$1" | grep -q "pid=$2,"
}

# Fail unless the postfix user can reach $1; name the first directory on
# the way that it cannot traverse.
check_traversable() {
	local target=$1 p=""
	runuser -u "$PF_USER" -- test -x "$target" 2>/dev/null && return 0
	local IFS=/ c
	for c in $target; do
		[ -n "$c" ] || continue
		p="$p/$c"
		if ! runuser -u "$PF_USER" -- test -x "$p" 2>/dev/null; then
			die "the $PF_USER user cannot traverse $p ($(stat -c '%A %U:%G' "$p")); Postfix needs every directory above its queue and config to be (at least) o+x"
		fi
	done
	die "the $PF_USER user cannot reach $target"
}

write_main_cf() {
	local d=$1 port=$2 spec=$3 spawn=$4 ca_line="" pol
	local pu pg
	pu=$(id -u "$PF_USER")
	pg=$(id -g "$PF_USER")
	[ -n "${BED_DIR:-}" ] && ca_line="smtpd_tls_CAfile = $BED_DIR/certs/ca.pem"
	pol="check_policy_service { $spec, timeout=10s, default_action=${PF_POLICY_DEFAULT_ACTION:-DUNNO} }"
	[ "$spec" = none ] && pol=""
	local domains
	domains=$(extra_domains | tr '\n' ' ')
	domains="$DOMAIN${domains:+ $domains}"
	domains=${domains% }
	cat >"$d/conf/main.cf" <<EOF
# Generated by tests/e2e/postfix.sh; throwaway instance, regenerated by start.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = $PF_USER
maillog_file = $d/maillog
maillog_file_prefixes = $d
myhostname = $DOMAIN
mydomain = smilla.test
myorigin = \$myhostname
# $DOMAIN is a virtual mailbox domain, so it must not be listed here.
mydestination =
inet_interfaces = $SMTPD_HOST
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
readme_directory = no

# Delivery: everything for $DOMAIN into one Maildir, nothing leaves.
virtual_mailbox_domains = $domains
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = texthash:$d/conf/vmailbox
virtual_uid_maps = static:$pu
virtual_gid_maps = static:$pg
default_transport = error:this test instance delivers nothing off-host
relay_transport = error:this test instance delivers nothing off-host
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native

# TLS
smtpd_tls_chain_files = $d/tls/server.key, $d/tls/server.pem
smtpd_tls_security_level = may
smtpd_tls_ask_ccert = yes
$ca_line
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_fingerprint_digest = sha256

# Policy
smtpd_recipient_restrictions =
	${pol:+$pol,}
	permit_mynetworks,
	reject_unauth_destination
smtpd_data_restrictions =${pol:+
	$pol}
smtpd_policy_service_request_limit = ${PF_POLICY_REQUEST_LIMIT:-0}
EOF
	if [ -n "$spawn" ]; then
		cat >>"$d/conf/main.cf" <<EOF
# spawn(8) kills its child after \$command_time_limit (1000s) by default;
# a policy server must live as long as the smtpd talking to it.
smillapol_time_limit = 3600s
EOF
	fi
	if [ -n "${PF_MAIN_EXTRA:-}" ]; then
		local setting
		# One "name = value" per line after joining continuation lines.
		printf '%s\n' "$PF_MAIN_EXTRA" |
			awk '/^[[:space:]]*(#|$)/ { next }
			     /^[[:space:]]/ { cur = cur " " $0; next }
			     { if (cur != "") print cur; cur = $0 }
			     END { if (cur != "") print cur }' |
			while IFS= read -r setting; do
				postconf -c "$d/conf" -e "$setting" || die "PF_MAIN_EXTRA: bad setting: $setting"
			done
	fi
}

write_master_cf() {
	local d=$1 port=$2 spawn=$3
	cat >"$d/conf/master.cf" <<EOF
# Generated by tests/e2e/postfix.sh.  No chroot anywhere; the only listener
# is the loopback smtpd (no port 25, no submission).
# service type  private unpriv  chroot  wakeup  maxproc command + args
$SMTPD_HOST:$port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	if [ -n "$spawn" ]; then
		printf 'smillapol unix  -       n       n       -       0       spawn\n  user=nobody argv=%s\n' \
			"$spawn" >>"$d/conf/master.cf"
	fi
	if [ -n "${PF_MASTER_EXTRA:-}" ]; then
		printf '%s\n' "$PF_MASTER_EXTRA" >>"$d/conf/master.cf"
	fi
}

# A postfix command that fails while reading main.cf (e.g. "no local
# interface found") logs only to syslog, which does not exist here: rerun
# it on a pseudo-terminal, where it also logs to stderr.  "start" is rerun
# as "check" (harmless).
diagnose() { # DIR check|start
	command -v script >/dev/null 2>&1 || return 0
	echo "--- postfix -c $1/conf check, on a tty:" >&2
	script -qec "postfix -c $(printf %q "$1/conf") check" /dev/null 2>&1 | tr -d '\r' | tail -n 15 >&2 || true
}

# PF_EXTRA_DOMAINS, one a line, checked.
extra_domains() {
	local x
	for x in $(printf '%s' "${PF_EXTRA_DOMAINS:-}" | tr ',' ' '); do
		case $x in
		*[!A-Za-z0-9.-]* | .* | *.) die "PF_EXTRA_DOMAINS: bad domain '$x'" ;;
		esac
		[ "$x" = "$DOMAIN" ] || echo "$x"
	done
}

load_env() {
	[ -s "$1/postfix.env" ] || die "$1/postfix.env missing: not started with '$PROG start $1'?"
	# shellcheck disable=SC1091
	. "$1/postfix.env"
}

# ---------------------------------------------------------------- commands

cmd_start() {
	local d=$1 policy=$2 t0 spec spawn="" port m i ok log n0
	t0=$(now)
	[ "$(id -u)" = 0 ] || die "must run as root (Postfix starts as root)"
	mkdir -p "$d"
	d=$(cd "$d" && pwd -P)
	chmod 755 "$d"
	case $policy in
	spawn:?*)
		spawn=${policy#spawn:}
		spec=unix:private/smillapol
		;;
	unix:/?* | inet:?*:?* | none) spec=$policy ;;
	*) die "bad POLICY '$policy': want unix:/abs/path, inet:host:port, spawn:CMD... or none" ;;
	esac
	case $spec in *[,{}\ ]*) die "POLICY must not contain spaces, commas or braces: $spec" ;; esac
	extra_domains >/dev/null # dies here (not in a subshell) on a bad name

	# A previous instance in DIR: stop it, start from scratch.
	stop_instance "$d" quiet
	rm -rf "$d/conf" "$d/queue" "$d/data" "$d/mail" "$d/tls"
	rm -f "$d/maillog" "$d/postfix.env" "$d/postfix-cmd.log"
	# queue: postfix check chdirs into it before creating what is below.
	mkdir -p "$d/conf" "$d/queue" "$d/data" "$d/mail" "$d/tls"
	chown "$PF_USER:" "$d/data" "$d/mail"
	check_traversable "$d/conf"

	server_cert "$d/tls" "$DOMAIN" || die "no server certificate"
	printf '%s\n' "$MAILBOX_USER@$DOMAIN $DOMAIN/$MAILBOX_USER/" \
		"@$DOMAIN $DOMAIN/$MAILBOX_USER/" >"$d/conf/vmailbox"
	local x
	for x in $(extra_domains); do
		printf '%s\n' "@$x $DOMAIN/$MAILBOX_USER/" >>"$d/conf/vmailbox"
	done

	log=$d/postfix-cmd.log
	ok=""
	for _ in 1 2 3 4 5; do
		port=$(pick_port) || die "no free port"
		write_main_cf "$d" "$port" "$spec" "$spawn"
		write_master_cf "$d" "$port" "$spawn"
		# Postfix re-reads (sleeping 300 ms each time) a main.cf or texthash
		# file modified within the last second or so, which cost ~2.4 s per
		# postfix command here: backdate what we just wrote.
		touch -d "@$(($(date +%s) - 10))" "$d/conf/main.cf" "$d/conf/master.cf" "$d/conf/vmailbox"
		# "check" creates the queue directories (post-install
		# create-missing) and validates; "quick-start" then lets
		# "postfix start" skip the same checks a second time.
		n0=$(cat "$d/maillog" 2>/dev/null | wc -l)
		if ! postfix -c "$d/conf" check >>"$log" 2>&1; then
			cat "$log" >&2
			tail -n 15 "$d/maillog" >&2 2>/dev/null || true
			diagnose "$d" check
			die "postfix check failed (config in $d/conf)"
		fi
		# check-warn's findings go to the maillog.
		tail -n +$((n0 + 1)) "$d/maillog" 2>/dev/null | grep -E "postfix-script.*(warning|fatal)" |
			sed "s/^/$PROG: /" >&2 || true
		touch "$d/queue/quick-start"
		if postfix -c "$d/conf" start >>"$log" 2>&1; then
			for i in $(seq 1 100); do
				m=$(master_pid "$d")
				if [ -n "$m" ] && listening "$SMTPD_HOST:$port" "$m"; then
					ok=1
					break
				fi
				sleep 0.1
			done
		fi
		[ -n "$ok" ] && break
		# Lost a race for the port: try another.  Anything else is fatal.
		if grep -q "bind $SMTPD_HOST port $port: Address already in use" "$d/maillog" "$log" 2>/dev/null; then
			echo "$PROG: port $port taken, retrying" >&2
			stop_instance "$d" quiet
			continue
		fi
		break
	done
	if [ -z "$ok" ]; then
		echo "$PROG: postfix did not come up in $d (port $port)" >&2
		echo "--- $log" >&2
		tail -n 15 "$log" >&2 2>/dev/null || true
		echo "--- tail of $d/maillog" >&2
		tail -n 25 "$d/maillog" >&2 2>/dev/null || true
		diagnose "$d" start
		stop_instance "$d" quiet
		exit 1
	fi

	cat >"$d/postfix.env" <<EOF
# Generated by tests/e2e/postfix.sh; source it.
PF_DIR='$d'
PF_PORT=$port
PF_MAILDIR='$d/mail/$DOMAIN/$MAILBOX_USER'
PF_LOG='$d/maillog'
PF_CONF='$d/conf'
PF_QUEUE='$d/queue'
PF_POLICY_SPEC='$spec'
export PF_DIR PF_PORT PF_MAILDIR PF_LOG PF_CONF PF_QUEUE PF_POLICY_SPEC
EOF
	echo "postfix up in $d: smtpd $SMTPD_HOST:$port, master pid $m, policy $spec${spawn:+ (spawn: $spawn)} [$(elapsed "$t0") s]"
}

cmd_stop() {
	local d=$1 t0
	t0=$(now)
	[ -d "$d" ] || return 0
	d=$(cd "$d" && pwd -P)
	stop_instance "$d"
	rm -f "$d/queue/pid/master.pid"
	echo "postfix stopped in $d [$(elapsed "$t0") s]"
}

cmd_send() {
	local d=$1
	shift
	load_env "$d"
	local base=(--server "$SMTPD_HOST" --port "$PF_PORT"
		--from sender@client.test --to "$MAILBOX_USER@$DOMAIN" --tls)
	if [ "${PF_SEND_CHAIN:-0}" = 1 ]; then
		# swaks 20201014 loads --tls-cert with CTX_use_certificate_file,
		# i.e. only the first certificate of the file, and has no chain
		# option.  Run it with CTX_use_certificate_chain_file swapped in.
		# Net::SSLeay must be loaded before swaks is compiled for the swap
		# to stick, and then its XS prototypes break swaks' compilation
		# ("Not enough arguments for ...CTX_load_verify_locations"):
		# drop them first.
		local swaks
		swaks=$(command -v swaks) || die "swaks not installed"
		perl -e '
			no strict "refs";
			require Net::SSLeay;
			require Scalar::Util;
			for my $n (keys %Net::SSLeay::) {
				next unless defined &{"Net::SSLeay::$n"};
				my $c = \&{"Net::SSLeay::$n"};
				Scalar::Util::set_prototype($c, undef) if defined prototype($c);
			}
			{ no warnings "redefine";
			  *Net::SSLeay::CTX_use_certificate_file = sub {
				Net::SSLeay::CTX_use_certificate_chain_file($_[0], $_[1]) }; }
			my $s = shift; $0 = $s; do $s; die $@ if $@;
		' "$swaks" "${base[@]}" "$@"
	else
		swaks "${base[@]}" "$@"
	fi
}

maildir_count() {
	local m=$1
	find "$m/new" "$m/cur" -maxdepth 1 -type f 2>/dev/null | wc -l
}

cmd_wait_mail() {
	local d=$1 n=$2 secs=${3:-20} i c newest
	load_env "$d"
	case $n$secs in *[!0-9]*) die "wait-mail: N and SECONDS must be integers" ;; esac
	for i in $(seq 0 $((secs * 10))); do
		c=$(maildir_count "$PF_MAILDIR")
		if [ "$c" -ge "$n" ]; then
			# shellcheck disable=SC2012 # Maildir names have no newlines
			newest=$(ls -1t "$PF_MAILDIR"/new/* "$PF_MAILDIR"/cur/* 2>/dev/null | head -n1)
			echo "$newest"
			return 0
		fi
		sleep 0.1
	done
	echo "$PROG: $c of $n messages in $PF_MAILDIR after $secs s; queue and log:" >&2
	postqueue -c "$PF_CONF" -p >&2 2>&1 || true
	tail -n 20 "$PF_LOG" >&2 || true
	return 1
}

[ $# -ge 2 ] || usage
cmd=$1
DIR=$2
shift 2
case $cmd in
start)
	[ $# -ge 1 ] || usage
	for t in postfix postconf swaks openssl ss perl runuser; do
		command -v "$t" >/dev/null 2>&1 || die "missing tool: $t"
	done
	cmd_start "$DIR" "$*"
	;;
stop) [ $# -eq 0 ] || usage; cmd_stop "$DIR" ;;
send) cmd_send "$DIR" "$@" ;;
wait-mail)
	[ $# -ge 1 ] && [ $# -le 2 ] || usage
	cmd_wait_mail "$DIR" "$@"
	;;
*) usage ;;
esac
