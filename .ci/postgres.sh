#!/usr/bin/env bash
# Starts a local PostgreSQL for the postgres store's contract tests (SPEC §8:
# "PostgreSQL tests run when EIDWALLET_TEST_POSTGRES_DSN is set (CI starts
# one)"). Debian, run as root; safe to run again: it installs, creates and
# starts only what is missing.
#
# Source it to get the variable in the calling shell:
#
#	. .ci/postgres.sh     # exports EIDWALLET_TEST_POSTGRES_DSN
#
# (which also leaves set -euo pipefail on in that shell, as .ci/run has it).
# Run as a command, it prints the DSN on stdout instead (progress goes to
# stderr either way).
set -euo pipefail

pg_user=eidwallet
pg_password=eidwallet
pg_db=eidwallet
pg_port=5432
pg_dsn="postgres://${pg_user}:${pg_password}@127.0.0.1:${pg_port}/${pg_db}?sslmode=disable"

pg_log() { echo "postgres.sh: $*" >&2; }

# as_postgres runs a command as the database superuser, with a bound on
# how long it may take.
as_postgres() { timeout 60 runuser -u postgres -- "$@"; }

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
	pg_log "installing PostgreSQL"
	timeout 600 apt-get update -qq
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq postgresql >/dev/null
fi
if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
	# The package makes a "main" cluster; make one if it was dropped.
	pg_version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
	pg_log "creating cluster ${pg_version}/main"
	timeout 120 pg_createcluster --port "${pg_port}" "${pg_version}" main >/dev/null
fi

# The first cluster: version, name, port, status.
read -r pg_version pg_cluster pg_cluster_port pg_status _ < <(pg_lsclusters -h | head -n 1)
if [ "${pg_cluster_port}" != "${pg_port}" ]; then
	pg_log "cluster ${pg_version}/${pg_cluster} listens on ${pg_cluster_port}, not ${pg_port}"
	exit 1
fi
# pg_ctl starts the server through a shell that opens /dev/null as the
# postgres user. Some CI sandboxes hand out a /dev/null only root may open
# (or a regular file in its place): give it back its usual form, and if
# that is not allowed either, start the server without pg_ctl, its standard
# streams opened here, as root.
devnull_ok() { as_postgres sh -c ': </dev/null >/dev/null' 2>/dev/null; }
if [[ "${pg_status}" != online* ]] && ! devnull_ok; then
	pg_log "/dev/null is not usable by postgres ($(ls -l /dev/null)); restoring it"
	if [ ! -c /dev/null ]; then
		rm -f /dev/null && mknod -m 666 /dev/null c 1 3 || true
	fi
	chmod 666 /dev/null || true
fi
if [[ "${pg_status}" != online* ]] && devnull_ok; then
	pg_log "starting cluster ${pg_version}/${pg_cluster}"
	timeout 120 pg_ctlcluster "${pg_version}" "${pg_cluster}" start
elif [[ "${pg_status}" != online* ]]; then
	pg_log "starting ${pg_version}/${pg_cluster} without pg_ctl"
	install -d -o postgres -g postgres -m 2775 /var/run/postgresql
	pg_logfile="/var/log/postgresql/postgresql-${pg_version}-${pg_cluster}.log"
	setsid runuser -u postgres -- "/usr/lib/postgresql/${pg_version}/bin/postgres" \
		-D "/var/lib/postgresql/${pg_version}/${pg_cluster}" \
		-c config_file="/etc/postgresql/${pg_version}/${pg_cluster}/postgresql.conf" \
		<&- >>"${pg_logfile}" 2>&1 &
fi
for _ in $(seq 1 60); do
	pg_isready -q -h 127.0.0.1 -p "${pg_port}" && break
	sleep 1
done
pg_isready -h 127.0.0.1 -p "${pg_port}" >&2

# The tests create and drop a schema each: the role owns its database.
if [ "$(as_postgres psql -p "${pg_port}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = '${pg_user}'")" != 1 ]; then
	pg_log "creating role ${pg_user}"
	as_postgres psql -p "${pg_port}" -q -c "CREATE ROLE ${pg_user} LOGIN PASSWORD '${pg_password}'"
fi
if [ "$(as_postgres psql -p "${pg_port}" -tAc "SELECT 1 FROM pg_database WHERE datname = '${pg_db}'")" != 1 ]; then
	pg_log "creating database ${pg_db}"
	as_postgres createdb -p "${pg_port}" -O "${pg_user}" "${pg_db}"
fi

export EIDWALLET_TEST_POSTGRES_DSN="${pg_dsn}"
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "${pg_dsn}"
else
	pg_log "EIDWALLET_TEST_POSTGRES_DSN is set"
fi
