# tls.sh - the server certificate of a throwaway MTA in the tests
# (tests/e2e/postfix.sh, tests/lib/sendmail.sh).  Sourced, not run.
#
#   server_cert DIR NAME   DIR/server.key (0600), DIR/server.crt (the
#                          leaf), DIR/server.pem (leaf + issuer) for the
#                          host NAME; 1 with a message on stderr when
#                          openssl fails
#
# With BED_DIR set (tests/bed/bed.sh), the certificate is issued by the
# bed's CA (certs/ca.pem), so a client that trusts the bed's CA can
# verify it; without, it is self-signed.  An EC P-256 key, 30 days,
# a random serial (no ca.srl written into the bed); the openssl
# messages go to DIR/openssl.log.
server_cert() {
	local t=$1 name=$2 serial ca
	local ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256"
	serial=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
	printf '%s\n' '[req]' 'distinguished_name = dn' 'prompt = no' '[dn]' '[ext]' \
		'basicConstraints = critical, CA:FALSE' \
		'keyUsage = critical, digitalSignature' \
		'extendedKeyUsage = serverAuth' \
		"subjectAltName = DNS:$name" >"$t/server.cnf"
	if [ -n "${BED_DIR:-}" ]; then
		ca=$BED_DIR/certs
		if [ ! -r "$ca/ca.pem" ] || [ ! -r "$ca/ca.key" ]; then
			echo "server_cert: BED_DIR=$BED_DIR has no certs/ca.pem + ca.key" >&2
			return 1
		fi
		# shellcheck disable=SC2086
		openssl req -config "$t/server.cnf" -new $ec -nodes -subj "/CN=$name" \
			-keyout "$t/server.key" -out "$t/server.csr" 2>>"$t/openssl.log" &&
			openssl x509 -req -in "$t/server.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
				-set_serial "$serial" -days 30 -sha256 -extfile "$t/server.cnf" -extensions ext \
				-out "$t/server.crt" 2>>"$t/openssl.log" &&
			cat "$t/server.crt" "$ca/ca.pem" >"$t/server.pem" || {
			echo "server_cert: openssl failed, see $t/openssl.log" >&2
			return 1
		}
		rm -f "$t/server.csr"
	else
		# shellcheck disable=SC2086
		openssl req -config "$t/server.cnf" -x509 $ec -nodes -days 30 \
			-subj "/CN=$name" -set_serial "$serial" -extensions ext \
			-keyout "$t/server.key" -out "$t/server.crt" 2>>"$t/openssl.log" &&
			cp "$t/server.crt" "$t/server.pem" || {
			echo "server_cert: openssl failed, see $t/openssl.log" >&2
			return 1
		}
	fi
	chmod 600 "$t/server.key"
}
